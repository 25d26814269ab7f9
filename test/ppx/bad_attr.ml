type t = {
  a : int; [@turso.colunm "x"]
}
[@@deriving turso]
