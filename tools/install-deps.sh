#!/bin/sh
# Installs what building and testing turso needs on Debian 12 (bookworm):
# OCaml and its libraries from Debian's packages, and checks for cargo.
# Safe to run again: it installs only what is missing.
set -eu

packages="ocaml-nox ocaml-dune ocaml-findlib liblwt-ocaml-dev libalcotest-ocaml-dev
  libppx-deriving-ocaml-dev libppxlib-ocaml-dev libcmdliner-ocaml-dev
  libsqlite3-ocaml-dev liblogs-ocaml-dev binutils gcc g++ make cmake
  ocaml-odoc opam python3 curl openssl ca-certificates"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
  echo "install-deps: installing Debian packages:$missing"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
else
  echo "install-deps: Debian packages present"
fi

# Rust: libsql needs a recent stable toolchain (Debian 12's rustc is too
# old), normally installed with rustup into ~/.cargo/bin.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo not found. Install Rust with rustup (https://rustup.rs)," >&2
  echo "  then run this again; crates come from crates.io at build time." >&2
  exit 1
fi
echo "install-deps: $(cargo --version)"
