#!/bin/sh
# Builds the Rust stub and copies the static archive to $1 (run by lib/dune
# from _build/default/lib). One place for the cargo invocation and target dir.
set -eu
out="$1"
here=$(pwd)
cd ../rust
target="${TURSO_CARGO_TARGET_DIR:-$(pwd)/target}"
offline=""
if [ "${TURSO_CARGO_OFFLINE:-0}" = 1 ]; then offline="--offline"; fi
cargo build --release --locked $offline --target-dir "$target" --lib 1>&2
cp "$target/release/libturso_stubs.a" "$here/$out"
