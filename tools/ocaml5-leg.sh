#!/bin/bash
# The OCaml 5 leg of the tests: `make test` inside a Debian 13 (trixie) root
# made with debootstrap, where Debian's packages give OCaml 5.3 (the host,
# Debian 12, has OCaml 4.13 and a C library too old for trixie's packages).
#
# Needs root (debootstrap, mount, chroot). The root lives outside the
# repository, in $TURSO_OCAML5_ROOT (default /var/cache/turso-ci/trixie), and
# is kept between runs: it is made once (about two minutes) and reused while
# its package list is unchanged. The host's Rust toolchain (~/.rustup,
# ~/.cargo) and TLS certificates are bind-mounted into it; every mount is
# undone on exit, whether the tests pass, fail or the script is interrupted.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${TURSO_OCAML5_ROOT:-/var/cache/turso-ci/trixie}
mirror=${TURSO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages="ocaml-nox ocaml-dune ocaml-findlib libalcotest-ocaml-dev libsqlite3-ocaml-dev
  liblwt-ocaml-dev libppxlib-ocaml-dev libppx-deriving-ocaml-dev libcmdliner-ocaml-dev liblogs-ocaml-dev
  gcc g++ libc6-dev binutils make cmake ca-certificates"

if [ "$(id -u)" != 0 ]; then
  echo "ocaml5-leg: needs root (debootstrap, mount, chroot); not run" >&2
  exit 2
fi

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
  mounts=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() { # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounts+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}

# Unmount anything a killed earlier run left under the root.
unmount_leftovers() {
  local m
  for m in $(awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
}

mount_base() {
  bind /proc "$root/proc"
  bind /dev "$root/dev"
  bind /dev/pts "$root/dev/pts"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

unmount_leftovers
stamp="$root/.turso-ready"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(echo $packages)" ]; then
  echo "ocaml5-leg: making the Debian 13 root in $root"
  rm -rf --one-file-system "$root"
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  mkdir -p "$(dirname "$root")"
  debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 \
    || { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  mount_base
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $(echo $packages) >/dev/null"
  cleanup
  echo $packages >"$stamp"
fi

mount_base
for d in .rustup .cargo; do
  [ -d "$HOME/$d" ] && bind "$HOME/$d" "$root/root/$d"
done
# The host's CA bundle (it may hold certificates a proxy needs).
for f in "${SSL_CERT_DIR:-/etc/ssl/certs}" "${SSL_CERT_FILE:-}"; do
  if [ -d "$f" ]; then bind "$f" "$root$f" ro
  elif [ -f "$f" ] && [ ! -d "$(dirname "$root$f")" ]; then mkdir -p "$(dirname "$root$f")"; cp "$f" "$root$f"
  fi
done

# A copy of the working tree (tracked and unignored files), fresh each run.
rm -rf --one-file-system "$root/src/turso"
mkdir -p "$root/src/turso"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) \
  | (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$root/src/turso"

# The test server: SQLD_BIN, or the sqld kept beside the project
# (../shared/bin/sqld), copied to where the tests look for it in the root
# (/src/shared/bin/sqld, beside /src/turso).
sqld="${SQLD_BIN:-}"
if [ -z "$sqld" ] && [ -x "$repo/../shared/bin/sqld" ]; then sqld="$repo/../shared/bin/sqld"; fi
rm -rf --one-file-system "$root/src/shared"
if [ -n "$sqld" ]; then
  mkdir -p "$root/src/shared/bin"
  cp "$sqld" "$root/src/shared/bin/sqld"
fi

# The synced-mode tests' server (tools/install-tursodb.sh, on the host),
# copied into the root.
tursodb=$(sh "$repo/tools/install-tursodb.sh" || true)
rm -f "$root/var/cache/tursodb"
if [ -n "$tursodb" ]; then
  mkdir -p "$root/var/cache"
  cp "$tursodb" "$root/var/cache/tursodb"
fi

# In its own process group, so that an interrupt stops the whole build and
# the mounts are undone at once.
setsid chroot "$root" /usr/bin/env -i HOME=/root PATH=/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin \
  RUSTUP_HOME=/root/.rustup CARGO_HOME=/root/.cargo CI="${CI:-}" \
  SSL_CERT_FILE="${SSL_CERT_FILE:-}" SSL_CERT_DIR="${SSL_CERT_DIR:-}" \
  TURSO_CARGO_TARGET_DIR=/var/cache/turso-cargo-target ${tursodb:+TURSODB_BIN=/var/cache/tursodb} \
  sh -c 'cd /src/turso && echo "ocaml5-leg: $(ocamlfind ocamlopt -version) in Debian $(cat /etc/debian_version)" && make test' &
child=$!
trap 'kill -TERM -- -"$child" 2>/dev/null; wait "$child"; exit 130' INT TERM
wait "$child"
