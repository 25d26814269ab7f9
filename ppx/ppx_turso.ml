(* The turso.ppx library: [@@deriving turso] (deriver.ml) and checked
   queries, [%migrations] and [let%query] (checked.ml, with the SQL scan
   in sql_scan.ml). Each registers itself with ppxlib when linked; the
   references below make sure both are linked into any driver, and the
   modules stay private to the library. *)

let () = ignore (Deriver.deriver, Checked.query_ext)
