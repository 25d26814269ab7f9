#!/bin/sh
# Compile-time cost of checked queries: a file of N let%query (N = 0 and
# 100) against bench/migrations, through turso.ppx's driver, then ocamlopt;
# and ocamlopt alone on the same file already expanded (the code without
# the ppx's work). Prints the medians of R runs each.
#   sh bench/ppx_cost.sh        (after `dune build test/ppx/pp.exe @install`)
set -eu
R=${R:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
pp=$root/_build/default/test/ppx/pp.exe
inc=$root/_build/install/default/lib/turso
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/bench/migrations" "$work/"
gen() {
  echo '[%%migrations "migrations"]'
  i=0
  while [ "$i" -lt "$1" ]; do
    case $((i % 4)) in
      0) echo "let%query q$i = \"SELECT id, name, score, note FROM people WHERE id = :id AND score > $i\"" ;;
      1) echo "let%query q$i = \"INSERT INTO people (name, score, note) VALUES (:name, :score, 'n$i')\"" ;;
      2) echo "let%query q$i = \"UPDATE people SET note = :note WHERE id = :id AND $i = $i\"" ;;
      3) echo "let%query q$i : int = \"SELECT count(*) FROM people WHERE score >= :min + $i\"" ;;
    esac
    i=$((i + 1))
  done
}
ms() { python3 -c 'import sys,time; print(int(time.time()*1000))'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cd "$work"
for n in 0 100; do
  gen $n > q$n.ml
  for r in $(seq "$R"); do
    t0=$(ms); "$pp" -impl q$n.ml -dump-ast -o q$n.pp.ml; ocamlfind ocamlopt -c -I "$inc" -impl q$n.pp.ml; t1=$(ms)
    echo $((t1 - t0)) >> with_$n
    "$pp" -impl q$n.ml -o q${n}_expanded.ml
    t0=$(ms); ocamlfind ocamlopt -c -I "$inc" q${n}_expanded.ml; t1=$(ms)
    echo $((t1 - t0)) >> without_$n
  done
  echo "$n queries: with the ppx $(median < with_$n) ms, the expanded code alone $(median < without_$n) ms (medians of $R)"
done
