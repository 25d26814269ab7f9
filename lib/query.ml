(* Owns the typed statement (SQL, parameters, row decoder) that checked
   queries compile to. Running one is the fiber's business (api.ml,
   module Query). *)

type 'a t = { sql : string; params : Params.t option; decode : Row.t -> ('a, Error.t) result }

let make ~sql ?params decode = { sql; params; decode }
let sql q = q.sql
let params q = q.params
let decode q = q.decode
