(* The turso.ppx library: [@@deriving turso] (deriver.ml) and checked
   queries, [%%migrations] and [let%query] (checked.ml, with the SQL scan
   in sql_scan.ml). Each registers itself with ppxlib when linked. *)

module Deriver = Deriver
module Checked = Checked
