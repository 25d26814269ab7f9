type t = {
  a : Stamp.t; [@turso.of_value Stamp.of_value]
} [@@deriving turso]
