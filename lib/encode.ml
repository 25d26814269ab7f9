(* Owns encoding: OCaml values to SQLite values, the inverse of Decode,
   named as Decode's converters are so that generated code reads alike. *)

let int = Value.int
let int32 i = Value.Integer (Int64.of_int32 i)
let int64 = Value.int64
let float = Value.float
let bool = Value.bool
let string = Value.text
let bytes b = Value.Blob (Bytes.to_string b)
let value v = v
let option = Value.option
