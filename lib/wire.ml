type value = Null | Integer of int64 | Real of float | Text of string | Blob of string

type error_kind =
  [ `Sql | `Constraint | `Busy | `Auth | `Network | `Timeout | `Sync | `Closed
  | `Decode | `Config | `Misuse | `Internal ]

type error = {
  kind : error_kind;
  code : int option;
  message : string;
  sql : string option;
}

let add_value b = function
  | Null -> Buffer.add_char b '\000'
  | Integer i -> Buffer.add_char b '\001'; Buffer.add_int64_le b i
  | Real f -> Buffer.add_char b '\002'; Buffer.add_int64_le b (Int64.bits_of_float f)
  | Text s ->
    Buffer.add_char b '\003';
    Buffer.add_int32_le b (Int32.of_int (String.length s));
    Buffer.add_string b s
  | Blob s ->
    Buffer.add_char b '\004';
    Buffer.add_int32_le b (Int32.of_int (String.length s));
    Buffer.add_string b s

let max_len = 0x7fff_ffff

let check_len s =
  if String.length s > max_len then
    invalid_arg "Turso: a parameter larger than 2 GiB cannot be passed"

let value_size = function
  | Null -> 1
  | Integer _ | Real _ -> 9
  | Text s | Blob s -> check_len s; 5 + String.length s

let encode_params = function
  | None -> ""
  | Some (`Positional vs) ->
    let size = List.fold_left (fun n v -> n + value_size v) 5 vs in
    let b = Buffer.create size in
    Buffer.add_char b '\001';
    Buffer.add_int32_le b (Int32.of_int (List.length vs));
    List.iter (add_value b) vs;
    Buffer.contents b
  | Some (`Named nvs) ->
    let size =
      List.fold_left (fun n (k, v) -> n + 4 + String.length k + value_size v) 5 nvs
    in
    let b = Buffer.create size in
    Buffer.add_char b '\002';
    Buffer.add_int32_le b (Int32.of_int (List.length nvs));
    List.iter
      (fun (k, v) ->
        Buffer.add_int32_le b (Int32.of_int (String.length k));
        Buffer.add_string b k;
        add_value b v)
      nvs;
    Buffer.contents b

let encode_param_sets sets =
  let b = Buffer.create 1024 in
  Buffer.add_int32_le b (Int32.of_int (List.length sets));
  List.iter
    (fun vs ->
      let p = encode_params (Some (`Positional vs)) in
      Buffer.add_int32_le b (Int32.of_int (String.length p));
      Buffer.add_string b p)
    sets;
  Buffer.contents b

let is_ok s = String.length s > 0 && String.unsafe_get s 0 = '\000'

let[@inline] u8 s i = Char.code (String.get s i)
let[@inline] u32 s i = Int32.to_int (Bytes.get_int32_le (Bytes.unsafe_of_string s) i) land 0xffff_ffff
let[@inline] i64 s i = Bytes.get_int64_le (Bytes.unsafe_of_string s) i
let int64_at = i64

let kind_of_int = function
  | 0 -> `Sql | 1 -> `Constraint | 2 -> `Busy | 3 -> `Auth | 4 -> `Network
  | 5 -> `Timeout | 6 -> `Sync | 7 -> `Closed | 8 -> `Decode | 9 -> `Config
  | 10 -> `Misuse | _ -> `Internal

let decode_error s =
  (* status, kind, has_code, code (i64), message, has_sql, sql *)
  let kind = kind_of_int (u8 s 1) in
  let code = if u8 s 2 = 1 then Some (Int64.to_int (i64 s 3)) else None in
  let mlen = u32 s 11 in
  let message = String.sub s 15 mlen in
  let p = 15 + mlen in
  let sql = if u8 s p = 1 then Some (String.sub s (p + 5) (u32 s (p + 1))) else None in
  { kind; code; message; sql }

type cursor = {
  generation : int;
  names : string array;
  decltypes : string option array;
  mutable chunk : string;
  mutable pos : int;
  mutable remaining : int;
  mutable done_ : bool;
}

(* A chunk at [pos]: u32 row count, the rows, then a done byte. The done
   byte is read up front, from the end of the string. *)
let start_chunk c s pos =
  c.chunk <- s;
  c.remaining <- u32 s pos;
  c.pos <- pos + 4;
  c.done_ <- u8 s (String.length s - 1) = 1

let decode_query s =
  let generation = Int64.to_int (i64 s 1) in
  let ncols = u32 s 9 in
  let pos = ref 13 in
  let str () =
    let n = u32 s !pos in
    let v = String.sub s (!pos + 4) n in
    pos := !pos + 4 + n;
    v
  in
  let names = Array.make ncols "" and decltypes = Array.make ncols None in
  for i = 0 to ncols - 1 do
    names.(i) <- str ();
    decltypes.(i) <- (match str () with "" -> None | d -> Some d)
  done;
  let c = { generation; names; decltypes; chunk = ""; pos = 0; remaining = 0; done_ = true } in
  start_chunk c s !pos;
  c

let next_chunk c s = start_chunk c s 1

let decode_row c =
  let s = c.chunk in
  let n = Array.length c.names in
  let row = Array.make n Null in
  let pos = ref c.pos in
  for i = 0 to n - 1 do
    let p = !pos in
    match String.unsafe_get s p with
    | '\001' -> Array.unsafe_set row i (Integer (i64 s (p + 1))); pos := p + 9
    | '\002' -> Array.unsafe_set row i (Real (Int64.float_of_bits (i64 s (p + 1)))); pos := p + 9
    | '\003' ->
      let len = u32 s (p + 1) in
      Array.unsafe_set row i (Text (String.sub s (p + 5) len)); pos := p + 5 + len
    | '\004' ->
      let len = u32 s (p + 1) in
      Array.unsafe_set row i (Blob (String.sub s (p + 5) len)); pos := p + 5 + len
    | _ -> pos := p + 1
  done;
  c.pos <- !pos;
  c.remaining <- c.remaining - 1;
  row
