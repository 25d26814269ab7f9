(* Owns nothing of its own: the OCaml side's way to the one SQL-text scanner
   (rust/src/sql.rs), so that SQL is read the same way everywhere — by the
   engines, by a batch in `Read mode, and by the CLI's shell. *)

let is_read_only = Ffi.sql_is_read_only
let is_complete = Ffi.sql_complete
let split text = Wire.string_list (Ffi.sql_split text)
