(* Owns typed decoding: converters from values to OCaml values, and the
   record layouts the ppx deriver generates code against. The fast path
   allocates nothing on success; messages are built only on failure. *)

(* The fast path raises the constant [Mismatch] (no allocation, no
   message); the error path, taken once, builds the message with
   [explain]. *)
exception Mismatch

type 'a conv = { expected : string; read : Value.t -> 'a; explain : Value.t -> string }

let found v =
  let s = Value.to_string v in
  let s = if String.length s > 40 then String.sub s 0 37 ^ "..." else s in
  match v with Value.Null -> "NULL" | _ -> Value.type_name v ^ " " ^ s

let mismatch _ = raise_notrace Mismatch
let conv expected read = { expected; read; explain = found }
let int64 = conv "INTEGER" (function Value.Integer i -> i | v -> mismatch v)

let int =
  conv "INTEGER (in the OCaml int range)" (function
    | Value.Integer i when Int64.equal (Int64.of_int (Int64.to_int i)) i -> Int64.to_int i
    | v -> mismatch v)

let int32 =
  conv "INTEGER (in the int32 range)" (function
    | Value.Integer i when Int64.equal (Int64.of_int32 (Int64.to_int32 i)) i -> Int64.to_int32 i
    | v -> mismatch v)

let float =
  conv "REAL" (function Value.Real f -> f | Value.Integer i -> Int64.to_float i | v -> mismatch v)

let bool =
  conv "INTEGER 0 or 1" (function
    | Value.Integer 0L -> false
    | Value.Integer 1L -> true
    | v -> mismatch v)

let string = conv "TEXT" (function Value.Text s -> s | v -> mismatch v)
let bytes = conv "BLOB" (function Value.Blob s -> Bytes.of_string s | v -> mismatch v)
let value = conv "any value" Fun.id

let option c =
  { expected = c.expected ^ " or NULL";
    read = (function Value.Null -> None | v -> Some (c.read v));
    explain = c.explain }

let custom ~expected f =
  { expected;
    read = (fun v -> match f v with Ok x -> x | Error _ | (exception _) -> raise_notrace Mismatch);
    explain =
      (fun v ->
        found v
        ^
        match f v with
        | Error msg -> ": " ^ msg
        | Ok _ -> ""
        | exception e -> ": exception " ^ Printexc.to_string e) }

let error what msg = Error.make `Decode (what ^ msg)
let mismatch_error what c v = error what (Printf.sprintf ": expected %s, found %s" c.expected (c.explain v))

let check_at what c v = match c.read v with _ -> None | exception Mismatch -> Some (mismatch_error what c v)

let nth row i c =
  if i < 0 || i >= Row.length row then
    Error (error (Printf.sprintf "column %d" i) (Printf.sprintf ": the row has %d column(s)" (Row.length row)))
  else
    let v = Array.unsafe_get (Row.unsafe_values row) i in
    match c.read v with
    | x -> Ok x
    | exception Mismatch ->
      Error (mismatch_error (Printf.sprintf "column %d (%s)" i (Row.columns row).(i)) c v)

let missing_error name row =
  error (Printf.sprintf "missing column %S" name)
    (Printf.sprintf " (the row has: %s)" (String.concat ", " (Array.to_list (Row.columns row))))

let get row name c =
  match Row.index row name with
  | -1 -> Error (missing_error name row)
  | i -> (
    let v = Array.unsafe_get (Row.unsafe_values row) i in
    match c.read v with x -> Ok x | exception Mismatch -> Error (mismatch_error (Printf.sprintf "column %S" name) c v))

type check = Check : 'a conv -> check

let check c = Check c

(* A record's fields: names, converters, which have a default; and the
   column indexes, resolved once per result set (the rows of one result
   share their column-name array). *)
type layout = {
  fields : string array;
  checks : check array;
  defaults : bool array;
  mutable cache : cache;
      (** replaced whole, so that a thread reading it sees a consistent pair *)
}

and cache = { names : string array; idx : int array }

let layout fields checks defaults =
  (* a fresh array: no row's names can be physically equal to it *)
  { fields; checks; defaults; cache = { names = Array.make 1 ""; idx = [||] } }

let resolve_slow l row =
  let idx = Array.map (fun f -> Row.index row f) l.fields in
  l.cache <- { names = (Row.columns row); idx };
  idx

let[@inline] resolve l row =
  let c = l.cache in
  if c.names == (Row.columns row) then c.idx else resolve_slow l row

(* [idx] comes from [resolve] on this row: each index is -1 or valid. *)
let[@inline] value_at row idx k =
  match Array.unsafe_get idx k with
  | -1 -> raise_notrace Mismatch
  | i -> Array.unsafe_get (Row.unsafe_values row) i

let[@inline] present idx k = Array.unsafe_get idx k >= 0
let[@inline] read c v = c.read v

let[@inline] to_int i =
  let n = Int64.to_int i in
  if Int64.equal (Int64.of_int n) i then n else raise_notrace Mismatch

let[@inline] to_int32 i =
  let n = Int64.to_int32 i in
  if Int64.equal (Int64.of_int32 n) i then n else raise_notrace Mismatch

let first_error n check_one =
  let rec go k =
    if k >= n then Error.make `Internal "decoding failed, but no field explains why"
    else match check_one k with Some e -> e | None -> go (k + 1)
  in
  go 0

let diagnose l row idx =
  first_error (Array.length l.fields) (fun k ->
      match idx.(k) with
      | -1 when l.defaults.(k) -> None
      | -1 -> Some (missing_error l.fields.(k) row)
      | i ->
        let (Check c) = l.checks.(k) in
        check_at (Printf.sprintf "column %S" l.fields.(k)) c (Row.unsafe_values row).(i))

let at row i c =
  if i >= Array.length (Row.unsafe_values row) then raise_notrace Mismatch
  else c.read (Array.unsafe_get (Row.unsafe_values row) i)

let diagnose_at row checks =
  first_error (Array.length checks) (fun i ->
      if i >= Row.length row then
        Some (error (Printf.sprintf "column %d" i) (Printf.sprintf ": the row has %d column(s)" (Row.length row)))
      else
        let (Check c) = checks.(i) in
        check_at (Printf.sprintf "column %d (%s)" i (Row.columns row).(i)) c (Row.unsafe_values row).(i))
