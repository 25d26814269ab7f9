#!/bin/sh
# Builds the Rust stub and copies the static archive to $1 (run by lib/dune
# from _build/default/lib). One place for the cargo invocation and target dir.
#
# The archive carries libSQL's own SQLite. Its sqlite3_* symbols are renamed
# to turso_sqlite3_* so that a program that also links the system SQLite
# (sqlite3-ocaml, say) keeps the two apart instead of silently running one
# library's calls on the other's engine.
set -eu
out="$1"
here=$(pwd)
cd ../rust
target="${TURSO_CARGO_TARGET_DIR:-$(pwd)/target}"
offline=""
if [ "${TURSO_CARGO_OFFLINE:-0}" = 1 ]; then offline="--offline"; fi
cargo build --release --locked $offline --target-dir "$target" --lib 1>&2
cp "$target/release/libturso_stubs.a" "$here/$out"
cd "$here"
nm "$out" 2>/dev/null \
  | awk '$2 ~ /^[TDBRVWCU]$/ && $3 ~ /^sqlite3/ { print $3 " turso_" $3 }' \
  | sort -u > "$out.syms"
objcopy --redefine-syms="$out.syms" "$out"
rm -f "$out.syms"
