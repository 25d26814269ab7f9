(** A statement's whole result, as {!Turso.Conn.run} and
    {!Turso.Conn.batch_list} return it (the shape of the official clients'
    results). *)

type t = {
  columns : string array;
  decltypes : string option array;  (** declared types; [None] for an expression *)
  rows : Row.t list;
  rows_affected : int64;  (** rows the statement changed (0 for a query) *)
  last_insert_rowid : int64 option;  (** [None] when the statement inserted nothing *)
}

(**/**)

val of_wire : Wire.result -> t
