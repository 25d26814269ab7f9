(* Owns the typed statement (SQL, parameters, row decoder) that checked
   queries compile to. Running one is the fiber's business (api.ml,
   module Query). *)

(* [In_order]: named parameters given for every index, in SQLite's order
   (what let%query generates), so that an engine which binds by position
   can be given the values alone. *)
type params = Given of Params.t option | In_order of string array * Value.t list

type 'a t = { sql : string; params : params; decode : Row.t -> ('a, Error.t) result }

let make ~sql ?params decode = { sql; params = Given params; decode }
let in_order ~sql names values decode = { sql; params = In_order (names, values); decode }
let sql q = q.sql

let params q =
  match q.params with
  | Given p -> p
  | In_order (names, values) -> Some (`Named (List.combine (Array.to_list names) values))

let params_for ~by_position q =
  match q.params with
  | Given p -> p
  | In_order (_, values) when by_position -> Some (`Positional values)
  | In_order _ -> params q

let decode q = q.decode
