#!/bin/sh
# Proves that the release archive installs the way opam would build it:
# unpacked in a temporary directory, built with no network for cargo (an
# empty CARGO_HOME and CARGO_NET_OFFLINE), installed with `dune install
# --prefix` into a temporary prefix, then used by a program outside the
# source tree through ocamlfind (turso, turso.lwt, turso.ppx).
#
#   sh tools/test-release.sh _release/turso-VERSION.tar.gz
set -eu
archive=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$archive" -C "$work"
src=$(echo "$work"/turso-*)

export CARGO_HOME="$work/cargo-home"
export CARGO_NET_OFFLINE=true
# cargo's output may be kept between runs (TURSO_RELEASE_TARGET_DIR); the
# crates always come from the archive.
export TURSO_CARGO_TARGET_DIR="${TURSO_RELEASE_TARGET_DIR:-$work/target}"
unset TURSO_CARGO_OFFLINE

echo "test-release: building $(basename "$archive") offline"
(cd "$src" && dune build -p turso @install)
echo "test-release: installing into a temporary prefix"
(cd "$src" && dune install --prefix "$work/prefix" turso 2>&1 | tail -1)

echo "test-release: a program outside the tree, through ocamlfind"
mkdir "$work/user"
cp "$here/test/release/prog.ml" "$work/user/"
(
  cd "$work/user"
  OCAMLPATH="$work/prefix/lib" ocamlfind ocamlopt -thread \
    -package turso,turso.lwt,turso.ppx,lwt.unix -linkpkg prog.ml -o prog
  ./prog
)

echo "test-release: documentation"
sh "$src/tools/check-docs.sh"

echo "test-release: opam lint"
opam lint "$src/turso.opam" 2>&1 | { grep -v "Running as root" || true; }
opam lint "$src/turso.opam" >/dev/null 2>&1 || { echo "test-release: opam lint failed" >&2; exit 1; }

# offline build, install, program, docs, lint
echo "test-release: 5 checks passed"
