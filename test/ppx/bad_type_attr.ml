type t = {
  a : (int [@turso.of_valu f]) option;
}
[@@deriving turso]
