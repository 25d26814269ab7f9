type t = {
  ok : int;
  bad : int list;
} [@@deriving turso]
