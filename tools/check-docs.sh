#!/bin/sh
# The API documentation: `dune build @doc` must build the pages with no
# warning about our own comments, and every public value must have a doc
# comment (tools/check-docs.py). The one message left through is odoc's
# note that it found no documentation for a dependency (Debian ships none
# for Stdlib, Lwt or Ppxlib), so it cannot link to them.
set -eu
cd "$(dirname "$0")/.."
out=$(dune build @doc --force 2>&1 || echo "dune build @doc failed")
left=$(printf '%s\n' "$out" | awk '
  /^File ".*\.odoc":$/ { file = $0; next }
  /^Warning: Couldn.t find the following modules:$/ { skip = 1; file = ""; next }
  skip == 1 { skip = 0; next }
  /^ +odoc / { next }   # dune names the action whose output follows
  NF { if (file != "") print file; file = ""; print }')
if [ -n "$left" ]; then
  printf 'check-docs: dune build @doc reported:\n%s\n' "$left" >&2
  exit 1
fi
for lib in turso turso/lwt; do
  [ -f "_build/default/_doc/_html/$(echo "$lib" | cut -d/ -f1)/index.html" ] || { echo "check-docs: no pages for $lib" >&2; exit 1; }
done
# The public modules: turso.mli and what it re-exports.
python3 tools/check-docs.py lib/turso.mli lib/api_intf.mli lib/value.mli lib/error.mli lib/params.mli \
  lib/row.mli lib/decode.mli lib/encode.mli lib/result_set.mli lib/config.mli lib/stats.mli \
  lib/vector.mli lib/trace.mli lib/migration.mli lib/lwt/turso_lwt.mli
echo "check-docs: odoc pages built, every public value documented"
