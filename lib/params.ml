(* Owns statement parameters as the API takes them, and their encoding for
   the boundary. *)

type t = [ `Positional of Value.t list | `Named of (string * Value.t) list ]

let encode = function
  | None -> ""
  | Some p -> Wire.encode_params (Some (p :> [ `Positional of _ | `Named of _ ]))
