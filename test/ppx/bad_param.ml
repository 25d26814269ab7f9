type 'a t = { a : 'a } [@@deriving turso]
