(* [@@deriving turso] at run time, on real query results. *)

open Turso

module Level = struct
  type t = Low | High

  let of_value = function
    | Value.Text "low" -> Ok Low
    | Value.Text "high" -> Ok High
    | Value.Text s -> Error (Printf.sprintf "unknown level %S" s)
    | _ -> Error "a level is TEXT"

  let to_value = function Low -> Value.Text "low" | High -> Value.Text "high"
end

(* A user converter that raises: decoding must still return an Error. *)
let parse_even = function
  | Value.Integer i when Int64.rem i 2L = 0L -> Ok (Int64.to_int i)
  | Value.Integer _ -> failwith "odd"
  | _ -> Error "not an integer"

type schedule = {
  id : int64;
  email : string;
  send_at : float;
  attempts : int;
  payload : string option;
  sent : bool;
}
[@@deriving turso]

type everything = {
  i : int;
  i32 : int32;
  i64 : int64;
  f : float;
  b : bool;
  s : string;
  by : bytes;
  oi : int option;
  oi32 : int32 option;
  oi64 : int64 option;
  ofl : float option;
  ob : bool option;
  os : string option;
  oby : bytes option;
  level : Level.t;
  olevel : Level.t option;
  even : int; [@turso.of_value parse_even] [@turso.to_value Value.int]
  renamed : string; [@turso.column "the_name"]
  missing : int; [@turso.default 42]
  raw : Value.t;
}
[@@deriving turso]

type pair = int64 * string [@@deriving turso]

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)

let with_conn f =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close c; Db.close db) (fun () -> f c)

let expect_decode_error ~contains r =
  match r with
  | Ok _ -> Alcotest.failf "expected a decode error mentioning %S" contains
  | Error (e : Error.t) ->
    Alcotest.(check string) "kind" "decode" (Error.kind_to_string e.kind);
    let re = Str.regexp_string contains in
    if not (try ignore (Str.search_forward re e.message 0); true with Not_found -> false) then
      Alcotest.failf "error %S does not mention %S" e.message contains

let schedule_sql =
  "CREATE TABLE email_schedules (id INTEGER PRIMARY KEY, email TEXT, send_at REAL, \
   attempts INTEGER, payload TEXT, sent INTEGER)"

let test_schedule_roundtrip () =
  with_conn (fun c ->
      ignore (ok (Conn.execute c schedule_sql));
      let rows =
        [ { id = 1L; email = "a@x"; send_at = 1.5; attempts = 0; payload = None; sent = false };
          { id = 2L; email = "b@x"; send_at = 2.25; attempts = 3; payload = Some "{}"; sent = true } ]
      in
      Alcotest.(check (list string)) "columns" [ "id"; "email"; "send_at"; "attempts"; "payload"; "sent" ]
        schedule_columns;
      let ins = ok (Conn.prepare c "INSERT INTO email_schedules VALUES (:id, :email, :send_at, :attempts, :payload, :sent)") in
      List.iter (fun r -> ignore (ok (Stmt.execute ins ~params:(schedule_to_params r)))) rows;
      let back = ok (Conn.query_map c "SELECT * FROM email_schedules ORDER BY id" ~f:schedule_of_row) in
      Alcotest.(check bool) "decoded = inserted" true (back = rows);
      (* columns in another order, and extra columns, decode by name *)
      let back =
        ok (Conn.query_map c "SELECT sent, payload, 'extra' AS x, attempts, send_at, email, id FROM email_schedules ORDER BY id"
              ~f:schedule_of_row)
      in
      Alcotest.(check bool) "by name, any order" true (back = rows);
      (* streamed rows *)
      let n =
        ok (Rows.fold (ok (Conn.query c "SELECT * FROM email_schedules")) ~init:0 ~f:(fun n r ->
                ignore (ok (schedule_of_row r));
                n + 1))
      in
      Alcotest.(check int) "streamed" 2 n)

let everything_row =
  {|SELECT 1 AS i, 2 AS i32, 3 AS i64, 4.5 AS f, 1 AS b, 's' AS s, x'00ff' AS "by",
           NULL AS oi, 5 AS oi32, NULL AS oi64, 6.5 AS ofl, 0 AS ob, NULL AS os, x'01' AS oby,
           'high' AS level, NULL AS olevel, 8 AS even, 'n' AS the_name, x'aa' AS raw|}

let test_every_field_type () =
  with_conn (fun c ->
      let r = Option.get (ok (Conn.query_one c everything_row)) in
      let v = ok (everything_of_row r) in
      Alcotest.(check int) "int" 1 v.i;
      Alcotest.(check int32) "int32" 2l v.i32;
      Alcotest.(check int64) "int64" 3L v.i64;
      Alcotest.(check (float 0.)) "float" 4.5 v.f;
      Alcotest.(check bool) "bool" true v.b;
      Alcotest.(check string) "string" "s" v.s;
      Alcotest.(check string) "bytes" "\000\255" (Bytes.to_string v.by);
      Alcotest.(check (option int)) "int option" None v.oi;
      Alcotest.(check (option int32)) "int32 option" (Some 5l) v.oi32;
      Alcotest.(check (option int64)) "int64 option" None v.oi64;
      Alcotest.(check (option (float 0.))) "float option" (Some 6.5) v.ofl;
      Alcotest.(check (option bool)) "bool option" (Some false) v.ob;
      Alcotest.(check (option string)) "string option" None v.os;
      Alcotest.(check (option string)) "bytes option" (Some "\001") (Option.map Bytes.to_string v.oby);
      Alcotest.(check bool) "M.t" true (v.level = Level.High);
      Alcotest.(check bool) "M.t option" true (v.olevel = None);
      Alcotest.(check int) "attribute converter" 8 v.even;
      Alcotest.(check string) "renamed column" "n" v.renamed;
      Alcotest.(check int) "default for a missing column" 42 v.missing;
      Alcotest.(check bool) "Value.t" true (Value.equal v.raw (Value.Blob "\170"));
      (* the encoder: every field, under its column name *)
      let ps =
        match everything_to_params v with `Named ps -> ps | `Positional _ -> Alcotest.fail "records encode by name"
      in
      Alcotest.(check (list string)) "parameter names" everything_columns (List.map fst ps);
      Alcotest.(check string) "encoded M.t" "'high'" (Value.to_string (List.assoc "level" ps));
      Alcotest.(check string) "encoded bool" "1" (Value.to_string (List.assoc "b" ps));
      Alcotest.(check string) "encoded bytes" "x'00ff'" (Value.to_string (List.assoc "by" ps));
      Alcotest.(check string) "encoded None" "NULL" (Value.to_string (List.assoc "os" ps)))

let decode c sql = everything_of_row (Option.get (ok (Conn.query_one c sql)))

(* Replaces one column of [everything_row]. *)
let with_column col value =
  let re = Str.regexp (Printf.sprintf "[^ ,]+ AS %s," (Str.quote col)) in
  let sql = Str.global_replace re (value ^ " AS " ^ col ^ ",") everything_row in
  if sql = everything_row then Alcotest.failf "test bug: no column %s" col;
  sql

let test_decode_errors () =
  with_conn (fun c ->
      expect_decode_error ~contains:"missing column \"i\"" (decode c (Str.global_replace (Str.regexp "1 AS i,") "" everything_row));
      expect_decode_error ~contains:"column \"s\": expected TEXT, found NULL" (decode c (with_column "s" "NULL"));
      expect_decode_error ~contains:"column \"i64\": expected INTEGER, found TEXT 'abc'" (decode c (with_column "i64" "'abc'"));
      expect_decode_error ~contains:"column \"i32\": expected INTEGER (in the int32 range), found INTEGER 4294967296"
        (decode c (with_column "i32" "4294967296"));
      expect_decode_error ~contains:"column \"b\": expected INTEGER 0 or 1, found INTEGER 2" (decode c (with_column "b" "2"));
      expect_decode_error ~contains:"column \"f\": expected REAL, found TEXT" (decode c (with_column "f" "'x'"));
      expect_decode_error ~contains:"column \"by\": expected BLOB, found TEXT" (decode c (with_column "\"by\"" "'x'"));
      expect_decode_error ~contains:"unknown level \"mid\"" (decode c (with_column "level" "'mid'"));
      expect_decode_error ~contains:"exception Failure(\"odd\")" (decode c (with_column "even" "7"));
      expect_decode_error ~contains:"column \"oi\": expected INTEGER (in the OCaml int range) or NULL, found TEXT"
        (decode c (with_column "oi" "'t'")))

let test_int_range () =
  with_conn (fun c ->
      (* an OCaml int has 63 bits: 2^62 does not fit *)
      let r = Option.get (ok (Conn.query_one c "SELECT 4611686018427387904 AS attempts, 1 AS id, 'e' AS email, 0.0 AS send_at, NULL AS payload, 0 AS sent")) in
      expect_decode_error ~contains:"column \"attempts\": expected INTEGER (in the OCaml int range), found INTEGER 4611686018427387904"
        (schedule_of_row r);
      let r = Option.get (ok (Conn.query_one c "SELECT 4611686018427387903 AS attempts, 1 AS id, 'e' AS email, 0 AS send_at, NULL AS payload, 0 AS sent")) in
      Alcotest.(check int) "max_int fits" max_int (ok (schedule_of_row r)).attempts;
      Alcotest.(check (float 0.)) "INTEGER into float" 0. (ok (schedule_of_row r)).send_at)

let test_tuple () =
  with_conn (fun c ->
      let r = Option.get (ok (Conn.query_one c "SELECT 7, 'seven', 'extra'")) in
      Alcotest.(check (pair int64 string)) "by position" (7L, "seven") (ok (pair_of_row r));
      (match pair_to_params (1L, "one") with
       | `Positional vs -> Alcotest.(check (list string)) "positional" [ "1"; "'one'" ] (List.map Value.to_string vs)
       | `Named _ -> Alcotest.fail "tuples encode by position");
      let r = Option.get (ok (Conn.query_one c "SELECT 7")) in
      expect_decode_error ~contains:"column 1: the row has 1 column(s)" (pair_of_row r);
      let r = Option.get (ok (Conn.query_one c "SELECT 'x', 'y'")) in
      expect_decode_error ~contains:"column 0 ('x'): expected INTEGER" (pair_of_row r);
      let rows = ok (Conn.query_map c ~params:(pair_to_params (3L, "three")) "SELECT ?, ?" ~f:pair_of_row) in
      Alcotest.(check (list (pair int64 string))) "round trip" [ (3L, "three") ] rows)

let test_query_map_stops_at_error () =
  with_conn (fun c ->
      ignore (ok (Conn.execute c "CREATE TABLE p (a, b)"));
      ignore (ok (Conn.batch c "INSERT INTO p VALUES (1, 'one'); INSERT INTO p VALUES ('bad', 'two'); INSERT INTO p VALUES (3, 'three')"));
      expect_decode_error ~contains:"found TEXT 'bad'" (Conn.query_map c "SELECT a, b FROM p ORDER BY rowid" ~f:pair_of_row);
      (* the connection is fine afterwards *)
      Alcotest.(check int) "usable" 3 (List.length (ok (Conn.query_list c "SELECT * FROM p"))))

let test_hand_written_helpers () =
  with_conn (fun c ->
      let r = Option.get (ok (Conn.query_one c "SELECT 1 AS a, NULL AS b")) in
      Alcotest.(check int) "get" 1 (ok (Decode.get r "a" Decode.int));
      Alcotest.(check (option string)) "get option" None (ok (Decode.get r "b" Decode.(option string)));
      Alcotest.(check int) "nth" 1 (ok (Decode.nth r 0 Decode.int));
      expect_decode_error ~contains:"missing column \"zz\"" (Decode.get r "zz" Decode.int);
      expect_decode_error ~contains:"expected TEXT, found NULL" (Decode.get r "b" Decode.string))

(* to_values: a list of records straight into Stmt.execute_many, in the
   order of schedule_columns *)
let test_to_values () =
  with_conn (fun c ->
      ignore (ok (Conn.execute c schedule_sql));
      let rows =
        List.init 100 (fun i ->
            { id = Int64.of_int (i + 1); email = Printf.sprintf "u%d@x" i; send_at = float i; attempts = i mod 3;
              payload = (if i mod 2 = 0 then None else Some "p"); sent = i mod 5 = 0 })
      in
      let sql =
        Printf.sprintf "INSERT INTO email_schedules (%s) VALUES (%s)" (String.concat ", " schedule_columns)
          (String.concat ", " (List.map (fun _ -> "?") schedule_columns))
      in
      let ins = ok (Conn.prepare c sql) in
      Alcotest.(check int64) "inserted" 100L (ok (Stmt.execute_many ins (List.map schedule_to_values rows)));
      Stmt.close ins;
      let back = ok (Conn.query_map c "SELECT * FROM email_schedules ORDER BY id" ~f:schedule_of_row) in
      Alcotest.(check bool) "the same records come back" true (back = rows);
      Alcotest.(check int) "a tuple's values" 2 (List.length (pair_to_values (7L, "x"))))

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  Alcotest.run "turso.ppx"
    [ ( "derived",
        [ tc "record round trip" test_schedule_roundtrip; tc "every field type" test_every_field_type;
          tc "decode errors" test_decode_errors; tc "int range" test_int_range; tc "tuples" test_tuple;
          tc "query_map stops at an error" test_query_map_stops_at_error;
          tc "Decode for hand-written code" test_hand_written_helpers;
          tc "to_values into execute_many" test_to_values ] ) ]
