(* Owns the byte format of the boundary, the OCaml half of rust/src/wire.rs:
   parameters and batches encoded for the stub, replies and result chunks
   decoded from it. Keep the two in step. *)

type value = Null | Integer of int64 | Real of float | Text of string | Blob of string

type error_kind =
  [ `Sql | `Constraint | `Busy | `Auth | `Network | `Timeout | `Sync | `Closed
  | `Decode | `Config | `Misuse | `Internal | `Transaction_closed ]

type error = {
  kind : error_kind;
  code : int option;
  message : string;
  sql : string option;
}

(* Parameters are written into a string of exactly the right size: no
   Buffer growth and no final copy. *)

let max_len = 0x7fff_ffff

let value_size = function
  | Null -> 1
  | Integer _ | Real _ -> 9
  | Text s | Blob s ->
    if String.length s > max_len then
      invalid_arg "Turso: a parameter larger than 2 GiB cannot be passed";
    5 + String.length s

let[@inline] set_u32 b pos n = Bytes.set_int32_le b pos (Int32.of_int n)

let put_string b pos s =
  set_u32 b pos (String.length s);
  Bytes.unsafe_blit_string s 0 b (pos + 4) (String.length s);
  pos + 4 + String.length s

let put_value b pos = function
  | Null -> Bytes.unsafe_set b pos '\000'; pos + 1
  | Integer i -> Bytes.unsafe_set b pos '\001'; Bytes.set_int64_le b (pos + 1) i; pos + 9
  | Real f ->
    Bytes.unsafe_set b pos '\002';
    Bytes.set_int64_le b (pos + 1) (Int64.bits_of_float f);
    pos + 9
  | Text s -> Bytes.unsafe_set b pos '\003'; put_string b (pos + 1) s
  | Blob s -> Bytes.unsafe_set b pos '\004'; put_string b (pos + 1) s

let rec positional_size acc = function [] -> acc | v :: vs -> positional_size (acc + value_size v) vs

let rec named_size acc = function
  | [] -> acc
  | (k, v) :: vs -> named_size (acc + 4 + String.length k + value_size v) vs

let rec put_positional b pos = function [] -> pos | v :: vs -> put_positional b (put_value b pos v) vs

let rec put_named b pos = function
  | [] -> pos
  | (k, v) :: vs -> put_named b (put_value b (put_string b pos k) v) vs

let positional_into b pos vs n =
  Bytes.unsafe_set b pos '\001';
  set_u32 b (pos + 1) n;
  put_positional b (pos + 5) vs

let encode_params = function
  | None -> ""
  | Some (`Positional vs) ->
    let b = Bytes.create (positional_size 5 vs) in
    ignore (positional_into b 0 vs (List.length vs));
    Bytes.unsafe_to_string b
  | Some (`Named nvs) ->
    let b = Bytes.create (named_size 5 nvs) in
    Bytes.unsafe_set b 0 '\002';
    set_u32 b 1 (List.length nvs);
    ignore (put_named b 5 nvs);
    Bytes.unsafe_to_string b

let encode_param_sets sets =
  let size = List.fold_left (fun n vs -> n + 4 + positional_size 5 vs) 4 sets in
  let b = Bytes.create size in
  set_u32 b 0 (List.length sets);
  ignore
    (List.fold_left
       (fun pos vs ->
         let n = List.length vs in
         set_u32 b pos (positional_size 5 vs);
         positional_into b (pos + 4) vs n)
       4 sets);
  Bytes.unsafe_to_string b

let is_ok s = String.length s > 0 && String.unsafe_get s 0 = '\000'

let[@inline] u8 s i = Char.code (String.get s i)
let[@inline] u32 s i = Int32.to_int (Bytes.get_int32_le (Bytes.unsafe_of_string s) i) land 0xffff_ffff
let[@inline] i64 s i = Bytes.get_int64_le (Bytes.unsafe_of_string s) i
let int64_at = i64

let kind_of_int = function
  | 0 -> `Sql | 1 -> `Constraint | 2 -> `Busy | 3 -> `Auth | 4 -> `Network
  | 5 -> `Timeout | 6 -> `Sync | 7 -> `Closed | 8 -> `Decode | 9 -> `Config
  | 10 -> `Misuse | 12 -> `Transaction_closed | _ -> `Internal

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

type header = { names : string array; decltypes : string option array }

let decode_query s cached =
  let generation = Int64.to_int (i64 s 1) in
  let header, pos =
    if u8 s 9 = 0 then
      match cached with Some h -> (h, 10) | None -> invalid_arg "Turso: missing column header"
    else begin
      let ncols = u32 s 10 in
      let pos = ref 14 in
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
      ({ names; decltypes }, !pos)
    end
  in
  let c =
    { generation; names = header.names; decltypes = header.decltypes; chunk = ""; pos = 0;
      remaining = 0; done_ = true }
  in
  start_chunk c s pos;
  (c, header)

let next_chunk c s = start_chunk c s 1

(* The value at [c.pos], which moves past it. *)
let decode_value (c : cursor) =
  let s = c.chunk and p = c.pos in
  match String.unsafe_get s p with
  | '\001' -> c.pos <- p + 9; Integer (i64 s (p + 1))
  | '\002' -> c.pos <- p + 9; Real (Int64.float_of_bits (i64 s (p + 1)))
  | '\003' ->
    let len = u32 s (p + 1) in
    c.pos <- p + 5 + len;
    Text (String.sub s (p + 5) len)
  | '\004' ->
    let len = u32 s (p + 1) in
    c.pos <- p + 5 + len;
    Blob (String.sub s (p + 5) len)
  | _ -> c.pos <- p + 1; Null

(* Rows of up to 4 columns are built whole (an array literal): filling an
   array made first costs a write barrier per value. The [let]s fix the
   order the values are read in. *)
let decode_row (c : cursor) =
  let row =
    match Array.length c.names with
    | 1 -> [| decode_value c |]
    | 2 -> let a = decode_value c in let b = decode_value c in [| a; b |]
    | 3 -> let a = decode_value c in let b = decode_value c in let d = decode_value c in [| a; b; d |]
    | 4 ->
      let a = decode_value c in let b = decode_value c in let d = decode_value c in let e = decode_value c in
      [| a; b; d; e |]
    | n ->
      let row = Array.make n Null in
      for i = 0 to n - 1 do Array.unsafe_set row i (decode_value c) done;
      row
  in
  c.remaining <- c.remaining - 1;
  row

let string_list s =
  let n = u32 s 0 in
  let pos = ref 4 in
  List.init n (fun _ ->
      let len = u32 s !pos in
      let item = String.sub s (!pos + 4) len in
      pos := !pos + 4 + len;
      item)

let iter_completions s f =
  let n = u32 s 0 in
  let pos = ref 4 in
  for _ = 1 to n do
    let id = Int64.to_int (i64 s !pos) in
    let len = u32 s (!pos + 8) in
    f id (String.sub s (!pos + 12) len);
    pos := !pos + 12 + len
  done

type result = {
  r_names : string array;
  r_decltypes : string option array;
  r_rows : value array list;
  r_changes : int64;
  r_rowid : int64 option;
}

(* One result at [pos] (layout: rust/src/wire.rs, its module comment); returns
   it and the position after it. *)
let decode_result s pos =
  let pos = ref pos in
  let str () =
    let n = u32 s !pos in
    let v = String.sub s (!pos + 4) n in
    pos := !pos + 4 + n;
    v
  in
  let ncols = u32 s !pos in
  pos := !pos + 4;
  let names = Array.make ncols "" and decltypes = Array.make ncols None in
  for i = 0 to ncols - 1 do
    names.(i) <- str ();
    decltypes.(i) <- (match str () with "" -> None | d -> Some d)
  done;
  let nrows = u32 s !pos in
  let c = { generation = 0; names; decltypes; chunk = s; pos = !pos + 4; remaining = nrows; done_ = true } in
  let rows = List.init nrows (fun _ -> decode_row c) in
  let p = c.pos in
  let changes = i64 s p in
  let rowid = if u8 s (p + 8) = 1 then Some (i64 s (p + 9)) else None in
  ({ r_names = names; r_decltypes = decltypes; r_rows = rows; r_changes = changes; r_rowid = rowid }, p + 17)

let decode_run s = fst (decode_result s 1)

let decode_batch s =
  let n = u32 s 1 in
  let pos = ref 5 in
  List.init n (fun _ ->
      let r, p = decode_result s !pos in
      pos := p;
      r)

let encode_batch mode stmts =
  let b = Buffer.create 256 in
  Buffer.add_char b (Char.chr mode);
  let add_u32 n = Buffer.add_int32_le b (Int32.of_int n) in
  add_u32 (List.length stmts);
  List.iter
    (fun (sql, params) ->
      add_u32 (String.length sql);
      Buffer.add_string b sql;
      let p = encode_params params in
      add_u32 (String.length p);
      Buffer.add_string b p)
    stmts;
  Buffer.contents b
