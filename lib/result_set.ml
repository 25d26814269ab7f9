(* Owns whole results (Conn.run, Conn.batch_list), built from the
   boundary's decoded reply. *)

type t = {
  columns : string array;
  decltypes : string option array;
  rows : Row.t list;
  rows_affected : int64;
  last_insert_rowid : int64 option;
}

let of_wire (r : Wire.result) =
  {
    columns = r.r_names;
    decltypes = r.r_decltypes;
    rows = List.map (Row.make r.r_names) r.r_rows;
    rows_affected = r.r_changes;
    last_insert_rowid = r.r_rowid;
  }
