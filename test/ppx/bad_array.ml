type t = { a : float array } [@@deriving turso]
