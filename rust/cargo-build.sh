#!/bin/sh
# Builds the Rust stub and copies the static archive to $1 (run by lib/dune
# from _build/default/lib, with the OCaml version as $2: it picks the cargo
# feature, ocaml4 or ocaml5). One place for the cargo invocation and target
# directory. With `--test` as $1 it runs the crate's unit tests instead
# (test/dune, from _build/default/test).
#
# The archive carries libSQL's own SQLite. Its sqlite3_* symbols are renamed
# to turso_sqlite3_* so that a program that also links the system SQLite
# (sqlite3-ocaml, say) keeps the two apart instead of silently running one
# library's calls on the other's engine.
set -eu
out="$1"
case "${2:-4}" in
  4.*|4) feature=ocaml4 ;;
  5.*) feature=ocaml5 ;;
  *) echo "cargo-build.sh: unsupported OCaml version $2" >&2; exit 1 ;;
esac
here=$(pwd)
cd ../rust
# Without TURSO_CARGO_TARGET_DIR (the Makefile and .ci/run set it), cargo's
# output goes next to the sources, not into dune's copy of them: dune
# replaces _build/default/rust as it likes, and a target dir in there was
# clobbered mid-build (whole rebuilds, "couldn't create a temp dir").
here_rust=$(pwd)
case "$here_rust" in
  */_build/default/rust) default_target="${here_rust%/_build/default/rust}/rust/target" ;;
  *) default_target="$here_rust/target" ;;
esac
target="${TURSO_CARGO_TARGET_DIR:-$default_target}"
offline=""
if [ "${TURSO_CARGO_OFFLINE:-0}" = 1 ]; then offline="--offline"; fi
# A release archive carries the crates in vendor.tar (see tools/release.sh):
# unpack it once next to cargo's output and build from it, offline.
if [ -f vendor.tar ]; then
  vdir="$target/vendor-$(cksum <vendor.tar | cut -d' ' -f1)"
  if [ ! -d "$vdir" ]; then
    rm -rf "$target"/vendor-* && mkdir -p "$vdir.tmp"
    tar -xf vendor.tar -C "$vdir.tmp"
    mv "$vdir.tmp" "$vdir"
  fi
  set -- --offline \
    --config 'source.crates-io.replace-with="vendored-sources"' \
    --config "source.vendored-sources.directory=\"$vdir/vendor\""
else
  set --
fi
if [ "$out" = --test ]; then
  exec cargo test --release --locked $offline --target-dir "$target" --lib \
    --no-default-features --features "$feature" "$@"
fi
cargo build --release --locked $offline --target-dir "$target" --lib \
  --no-default-features --features "$feature" "$@" 1>&2
cp "$target/release/libturso_stubs.a" "$here/$out"
cd "$here"
nm "$out" 2>/dev/null \
  | awk '$2 ~ /^[TDBRVWCU]$/ && $3 ~ /^sqlite3/ { print $3 " turso_" $3 }' \
  | sort -u > "$out.syms"
objcopy --redefine-syms="$out.syms" "$out"
rm -f "$out.syms"
