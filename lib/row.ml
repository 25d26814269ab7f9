(* Owns result rows: a row's values next to its result's column names
   (one names array shared by every row of a result, so that decoders can
   resolve column positions once per result, by physical equality). *)

type t = { names : string array; values : Value.t array }

let columns r = r.names
let length r = Array.length r.values
let get r i =
  if i < 0 || i >= Array.length r.values then invalid_arg "Turso.Row.get: column out of range";
  Array.unsafe_get r.values i

let index r name =
  let rec go i =
    if i >= Array.length r.names then -1
    else if String.equal (Array.unsafe_get r.names i) name then i
    else go (i + 1)
  in
  go 0

let find r name =
  match index r name with -1 -> None | i -> Some r.values.(i)

let column r name =
  match index r name with
  | -1 ->
    Error
      (Error.make `Decode
         (Printf.sprintf "no column named %S (columns: %s)" name
            (String.concat ", " (Array.to_list r.names))))
  | i -> Ok r.values.(i)

let values r = Array.copy r.values
let to_list r = Array.to_list (Array.map2 (fun n v -> (n, v)) r.names r.values)

let pp ppf r =
  Format.fprintf ppf "@[<hov 1>{";
  Array.iteri
    (fun i v ->
      if i > 0 then Format.fprintf ppf ";@ ";
      Format.fprintf ppf "%s = %a" r.names.(i) Value.pp v)
    r.values;
  Format.fprintf ppf "}@]"

let make names values = { names; values }
let[@inline] unsafe_values r = r.values
