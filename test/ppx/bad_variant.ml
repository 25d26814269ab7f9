type t = A | B [@@deriving turso]
