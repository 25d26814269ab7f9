#!/bin/sh
# Makes the source archive for opam: the committed tree, with every crate
# the Rust stub needs vendored into rust/vendor.tar, so that the build runs
# without network (opam builds in a sandbox). The git repository itself
# carries no vendored crates.
#
#   sh tools/release.sh VERSION   ->  _release/turso-VERSION.tar.gz
set -eu
version="$1"
name="turso-$version"
out="_release"
rm -rf "$out/$name" "$out/$name.tar.gz"
mkdir -p "$out/$name"
git archive --format=tar HEAD | tar -x -C "$out/$name"
(
  cd "$out/$name/rust"
  cargo vendor --quiet --locked --versioned-dirs vendor >/dev/null
  # One file: dune copies it whole (it skips files and directories whose
  # names start with "." or "_", and cargo needs the vendored crates'
  # .cargo-checksum.json files).
  # Deterministic: the same crates make the same file (the build keys its
  # unpacked copy on the file's checksum).
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf vendor.tar vendor
  rm -rf vendor
)
tar -C "$out" -czf "$out/$name.tar.gz" "$name"
rm -rf "$out/$name"
echo "$out/$name.tar.gz"
