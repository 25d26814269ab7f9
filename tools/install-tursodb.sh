#!/bin/sh
# Installs tursodb, the Turso engine's CLI whose `--sync-server` is the
# server the synced-mode tests run against: a prebuilt binary from the npm
# package @tursodatabase/cli-linux-x64-gnu, pinned to one version and
# checked against the registry's integrity hash, into a cache outside the
# repository (never committed). Prints the binary's path on stdout.
# Already there: nothing is downloaded. TURSODB_BIN set: that binary is used.
set -eu

version=0.7.0
integrity="sha512-EXv9lKHTXSyeWJcuTBzrWDVBeiltCbg5XEnSkXQpiDjYkyvVab2J+1np6LjASqwxVYTOJvnHX56urk0hasIL9A=="
url="https://registry.npmjs.org/@tursodatabase/cli-linux-x64-gnu/-/cli-linux-x64-gnu-$version.tgz"

if [ -n "${TURSODB_BIN:-}" ]; then
  echo "$TURSODB_BIN"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-tursodb: no prebuilt tursodb for $(uname -s)-$(uname -m); set TURSODB_BIN" >&2; exit 2 ;;
esac

cache="${TURSO_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turso-ocaml}"
bin="$cache/tursodb-$version/tursodb"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
for tool in curl openssl base64 tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-tursodb: $tool is needed" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-tursodb: downloading tursodb $version" >&2
curl -sSfL --retry 3 -o "$tmp/cli.tgz" "$url"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/cli.tgz" | base64 | tr -d '\n')"
if [ "$got" != "$integrity" ]; then
  echo "install-tursodb: $url does not match the pinned integrity hash (got $got)" >&2
  exit 1
fi
tar -xzf "$tmp/cli.tgz" -C "$tmp" package/tursodb
mkdir -p "$(dirname "$bin")"
mv "$tmp/package/tursodb" "$bin.part"
chmod 755 "$bin.part"
mv "$bin.part" "$bin"
echo "$bin"
