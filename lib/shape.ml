(* Owns a statement's described shape: the stub's reply decoded. *)

type column = {
  name : string;
  decltype : string option;
  table : string option;
  origin : string option;
  not_null : bool;
  primary_key : bool;
}

type t = { read_only : bool; parameters : string option array; columns : column array }

(* The reply is flat strings (see rust/src/engine/local.rs, describe): the
   read-only flag, the parameter count and names, the column count and six
   strings per column. *)
let decode reply =
  let items = Array.of_list (Wire.string_list (String.sub reply 1 (String.length reply - 1))) in
  let pos = ref 0 in
  let next () = let s = items.(!pos) in incr pos; s in
  let opt s = if s = "" then None else Some s in
  let read_only = next () = "1" in
  let np = int_of_string (next ()) in
  let parameters = Array.init np (fun _ -> opt (next ())) in
  let nc = int_of_string (next ()) in
  let columns =
    Array.init nc (fun _ ->
        let name = next () in
        let decltype = opt (next ()) in
        let table = opt (next ()) in
        let origin = opt (next ()) in
        let not_null = next () = "1" in
        let primary_key = next () = "1" in
        { name; decltype; table; origin; not_null; primary_key })
  in
  { read_only; parameters; columns }
