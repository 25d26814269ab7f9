(* The blocking API on local databases.

   Run twice by `dune test`: once as is, and once with a tiny minor heap
   (OCAMLRUNPARAM=s=4k) and TURSO_TEST_GC_STRESS=1, which compacts the heap
   between operations (see [gc]) to shake out GC rooting bugs at the
   boundary. *)

open Turso

let gc_stress = Sys.getenv_opt "TURSO_TEST_GC_STRESS" = Some "1"
let gc () = if gc_stress then Gc.compact ()

let value = Alcotest.testable Value.pp Value.equal
let err_kind = Alcotest.testable (fun ppf k -> Format.pp_print_string ppf (Error.kind_to_string k)) ( = )

let ok = function
  | Ok x -> gc (); x
  | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)

let expect_error ?kind ?contains r =
  gc ();
  match r with
  | Ok _ -> Alcotest.fail "expected an error, got Ok"
  | Error (e : Error.t) ->
    Option.iter (fun k -> Alcotest.check err_kind ("kind of: " ^ Error.to_string e) k e.kind) kind;
    Option.iter
      (fun s ->
        let msg = Error.to_string e in
        let re = Str.regexp_string_case_fold s in
        if not (try ignore (Str.search_forward re msg 0); true with Not_found -> false) then
          Alcotest.failf "error %S does not mention %S" msg s)
      contains;
    e

let tmp_path () =
  let f = Filename.temp_file "turso-test" ".db" in
  Sys.remove f;
  f

let cleanup path =
  List.iter (fun s -> try Sys.remove (path ^ s) with Sys_error _ -> ()) [ ""; "-wal"; "-shm"; "-journal" ]

let with_mem f =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close c; Db.close db) (fun () -> f c)

let with_file ?(wal = false) f =
  let path = tmp_path () in
  let db = ok (Db.open_local path) in
  let c = ok (Conn.connect db) in
  if wal then ignore (ok (Conn.query_list c "PRAGMA journal_mode=WAL"));
  Fun.protect
    ~finally:(fun () -> Conn.close c; Db.close db; cleanup path)
    (fun () -> f path db c)

let exec c ?params sql = ignore (ok (Conn.execute c ?params sql))

let scalar c ?params sql =
  match ok (Conn.query_one c ?params sql) with
  | Some r -> Row.get r 0
  | None -> Alcotest.failf "no row for %s" sql

let count c table =
  match scalar c ("SELECT count(*) FROM " ^ table) with
  | Value.Integer n -> Int64.to_int n
  | v -> Alcotest.failf "count: %s" (Value.to_string v)

(* ---------------------------------------------------------------- values *)

let roundtrip c v =
  (* An untyped column keeps every value as given (a REAL column would store
     integral reals as integers and lose the sign of -0.). *)
  exec c "DELETE FROM v";
  exec c "INSERT INTO v (x) VALUES (?)" ~params:(`Positional [ v ]);
  let got = scalar c "SELECT x FROM v" in
  Alcotest.check value "stored and read back" v got;
  let direct = scalar c "SELECT ?" ~params:(`Positional [ v ]) in
  Alcotest.check value "bound and selected" v direct

let test_value_roundtrip () =
  with_mem (fun c ->
      exec c "CREATE TABLE v (x)";
      List.iter (roundtrip c)
        Value.
          [ Null; Integer 0L; Integer Int64.min_int; Integer Int64.max_int; Integer (-1L);
            Real 0.; Real (-0.); Real infinity; Real neg_infinity; Real Float.max_float;
            Real Float.min_float; Real 4.9406564584124654e-324; Real 1.5; Real Float.pi;
            Text ""; Text "plain"; Text "héllo wörld ✓ 😀 ∑ 日本語";
            Text "nul\000inside"; Text "\001\002\t\n\r"; Blob ""; Blob "\000";
            Blob (String.init 256 Char.chr) ])

let test_negative_zero_bits () =
  with_mem (fun c ->
      match scalar c "SELECT ?" ~params:(`Positional [ Value.Real (-0.) ]) with
      | Value.Real f -> Alcotest.(check int64) "sign bit kept" (Int64.bits_of_float (-0.)) (Int64.bits_of_float f)
      | v -> Alcotest.failf "got %s" (Value.to_string v))

let test_nan_rejected () =
  with_mem (fun c ->
      exec c "CREATE TABLE v (x)";
      ignore
        (expect_error ~kind:`Misuse ~contains:"NaN"
           (Conn.execute c "INSERT INTO v VALUES (?)" ~params:(`Positional [ Value.Real nan ])));
      Alcotest.(check int) "nothing inserted" 0 (count c "v"))

(* A script's cost grows with its length, not its square: a million short
   statements (about 10 MB). SQLite copied the rest of the text at every
   statement, so this took hours; now a second or two. The work runs in a
   thread, so that a regression fails the test after 60 s instead of
   hanging the suite. *)
let test_long_script () =
  with_mem (fun c ->
      exec c "CREATE TABLE n (x)";
      let b = Buffer.create (10 * 1024 * 1024) in
      for i = 1 to 1_000_000 do
        Buffer.add_string b (if i mod 1000 = 0 then "INSERT INTO n VALUES (1);\n" else "SELECT 1;\n")
      done;
      let text = Buffer.contents b in
      let result = ref None in
      let th = Thread.create (fun () -> result := Some (Conn.script c text)) () in
      let deadline = Unix.gettimeofday () +. 60. in
      while !result = None && Unix.gettimeofday () < deadline do Thread.delay 0.05 done;
      match !result with
      | None -> Alcotest.fail "a script of a million statements was not done in 60 s"
      | Some r ->
        Thread.join th;
        ok r;
        Alcotest.(check int) "every statement ran" 1000 (count c "n"))

let test_big_blob () =
  with_mem (fun c ->
      exec c "CREATE TABLE b (x BLOB)";
      let big = String.init (10 * 1024 * 1024) (fun i -> Char.chr ((i * 7) land 0xff)) in
      exec c "INSERT INTO b VALUES (?)" ~params:(`Positional [ Value.Blob big ]);
      (match scalar c "SELECT x FROM b" with
       | Value.Blob s ->
         Alcotest.(check int) "length" (String.length big) (String.length s);
         Alcotest.(check bool) "bytes" true (String.equal big s)
       | v -> Alcotest.failf "got %s" (Value.type_name v));
      exec c "CREATE TABLE v (x)";
      roundtrip c (Value.Text (String.make (10 * 1024 * 1024) 'a')))

let test_big_text () =
  with_mem (fun c ->
      exec c "CREATE TABLE v (x)";
      roundtrip c (Value.Text (String.concat "" (List.init 200_000 (fun _ -> "ab€d")))))

let test_invalid_utf8_text_param () =
  with_mem (fun c ->
      exec c "CREATE TABLE v (x)";
      let e =
        expect_error ~kind:`Misuse ~contains:"UTF-8"
          (Conn.execute c "INSERT INTO v VALUES (?)" ~params:(`Positional [ Value.Text "\xff\xfe" ]))
      in
      ignore e;
      Alcotest.(check int) "nothing inserted" 0 (count c "v");
      (* the same bytes as a blob are fine *)
      roundtrip c (Value.Blob "\xff\xfe"))

let test_invalid_utf8_text_read () =
  with_mem (fun c ->
      ignore
        (expect_error ~kind:`Decode ~contains:"UTF-8"
           (Conn.query_list c "SELECT CAST(x'ff41' AS TEXT) AS t"));
      (* the connection is still usable *)
      Alcotest.check value "after" (Value.Integer 1L) (scalar c "SELECT 1"))

let test_value_pp () =
  Alcotest.(check string) "text quoting" "'it''s'" (Value.to_string (Value.Text "it's"));
  Alcotest.(check string) "blob" "x'00ff'" (Value.to_string (Value.Blob "\000\255"));
  Alcotest.(check string) "null" "NULL" (Value.to_string Value.Null);
  Alcotest.(check string) "int" "-5" (Value.to_string (Value.int (-5)));
  Alcotest.(check string) "real" "1.5" (Value.to_string (Value.Real 1.5));
  Alcotest.(check string) "real, integral" "-0.0" (Value.to_string (Value.Real (-0.)));
  Alcotest.(check string) "real, shortest" "0.1" (Value.to_string (Value.Real 0.1));
  Alcotest.(check string) "real, 17 digits" "0.30000000000000004" (Value.to_string (Value.Real (0.1 +. 0.2)));
  Alcotest.(check string) "real, inf" "-Inf" (Value.to_string (Value.Real neg_infinity));
  Alcotest.check value "bool" (Value.Integer 1L) (Value.bool true);
  Alcotest.check value "option none" Value.Null (Value.option Value.text None);
  Alcotest.(check bool) "nan equals itself" true (Value.equal (Value.Real nan) (Value.Real nan));
  Alcotest.(check bool) "-0. differs from 0." false (Value.equal (Value.Real (-0.)) (Value.Real 0.))

(* ------------------------------------------------------------ parameters *)

let test_params () =
  with_mem (fun c ->
      let i n = Value.Integer (Int64.of_int n) in
      let row sql params = Array.to_list (Row.values (Option.get (ok (Conn.query_one c sql ~params)))) in
      Alcotest.(check (list value)) "?" [ i 1; i 2 ] (row "SELECT ?, ?" (`Positional [ i 1; i 2 ]));
      Alcotest.(check (list value)) "?NNN"
        [ i 2; i 1; i 2 ] (row "SELECT ?2, ?1, ?2" (`Positional [ i 1; i 2 ]));
      Alcotest.(check (list value)) ":name @name $name"
        [ i 1; i 2; i 3 ]
        (row "SELECT :a, @b, $c" (`Named [ (":a", i 1); ("@b", i 2); ("$c", i 3) ]));
      Alcotest.(check (list value)) "bare names"
        [ i 1; i 2; i 1 ] (row "SELECT :a, @b, :a" (`Named [ ("a", i 1); ("b", i 2) ]));
      ignore (expect_error ~kind:`Misuse ~contains:"expects 2" (Conn.query_list c "SELECT ?, ?" ~params:(`Positional [ i 1 ])));
      ignore (expect_error ~kind:`Misuse ~contains:"expects 1" (Conn.query_list c "SELECT ?" ~params:(`Positional [ i 1; i 2 ])));
      ignore (expect_error ~kind:`Misuse ~contains:"none given" (Conn.query_list c "SELECT ?"));
      ignore (expect_error ~kind:`Misuse ~contains:"no parameter named" (Conn.query_list c "SELECT :a" ~params:(`Named [ ("b", i 1) ])));
      ignore (expect_error ~kind:`Misuse ~contains:":b" (Conn.query_list c "SELECT :a, :b" ~params:(`Named [ ("a", i 1) ])));
      ignore (expect_error ~kind:`Misuse ~contains:"more than once" (Conn.query_list c "SELECT :a" ~params:(`Named [ ("a", i 1); (":a", i 2) ])));
      ignore (expect_error ~kind:`Misuse ~contains:"by name" (Conn.query_list c "SELECT :a, ?" ~params:(`Named [ ("a", i 1) ]))))

(* ---------------------------------------------------------------- errors *)

let test_invalid_sql () =
  with_mem (fun c ->
      let e = expect_error ~kind:`Sql ~contains:"syntax" (Conn.execute c "SELEC 1") in
      Alcotest.(check (option int)) "code" (Some 1) e.code;
      Alcotest.(check (option string)) "sql" (Some "SELEC 1") e.sql;
      let e = expect_error ~kind:`Sql ~contains:"no such table" (Conn.query_list c "SELECT * FROM nope") in
      Alcotest.(check (option string)) "sql of query" (Some "SELECT * FROM nope") e.sql;
      Alcotest.(check bool) "not transient" false (Error.is_transient e))

let test_constraint () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE NOT NULL)";
      exec c "INSERT INTO t VALUES (1, 'a')";
      let e = expect_error ~kind:`Constraint (Conn.execute c "INSERT INTO t VALUES (2, 'a')") in
      Alcotest.(check (option string)) "code name" (Some "SQLITE_CONSTRAINT_UNIQUE") (Option.map Error.code_name e.code);
      let e = expect_error ~kind:`Constraint (Conn.execute c "INSERT INTO t VALUES (3, NULL)") in
      Alcotest.(check (option string)) "not null" (Some "SQLITE_CONSTRAINT_NOTNULL") (Option.map Error.code_name e.code);
      Alcotest.(check int) "data intact" 1 (count c "t"))

let test_nul_in_sql () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x)";
      ignore (expect_error ~kind:`Misuse ~contains:"NUL" (Conn.execute c "INSERT INTO t VALUES (1)\000; DROP TABLE t"));
      ignore (expect_error ~kind:`Misuse ~contains:"NUL" (Conn.batch c "INSERT INTO t VALUES (1);\000"));
      ignore (expect_error ~kind:`Misuse ~contains:"NUL" (Conn.prepare c "SELECT 1\000"));
      Alcotest.(check int) "nothing ran" 0 (count c "t"))

let test_one_statement () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x)";
      ignore (expect_error ~kind:`Misuse ~contains:"more than one statement"
                (Conn.execute c "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)"));
      ignore (expect_error ~kind:`Misuse ~contains:"more than one statement"
                (Conn.prepare c "SELECT 1; SELECT 2"));
      ignore (expect_error ~kind:`Misuse ~contains:"no statement" (Conn.execute c "  -- nothing"));
      Alcotest.(check int) "nothing ran" 0 (count c "t");
      (* trailing semicolons and comments are fine *)
      exec c "INSERT INTO t VALUES (1); -- done";
      Alcotest.(check int) "one row" 1 (count c "t"))

let test_closed () =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  let s = ok (Conn.prepare c "SELECT 1") in
  let s2 = ok (Conn.prepare c "SELECT 2") in
  Stmt.close s2;
  ignore (expect_error ~kind:`Closed (Stmt.query s2));
  Conn.close c;
  Conn.close c;
  ignore (expect_error ~kind:`Closed (Conn.execute c "SELECT 1"));
  ignore (expect_error ~kind:`Closed (Conn.query_list c "SELECT 1"));
  ignore (expect_error ~kind:`Closed (Conn.prepare c "SELECT 1"));
  ignore (expect_error ~kind:`Closed (Conn.batch c "SELECT 1"));
  ignore (expect_error ~kind:`Closed (Conn.last_insert_rowid c));
  ignore (expect_error ~kind:`Closed (Conn.changes c));
  ignore (expect_error ~kind:`Closed (Conn.with_transaction c (fun _ -> Ok ())));
  ignore (expect_error ~kind:`Closed (Stmt.execute s));
  ignore (expect_error ~kind:`Closed (Stmt.query s));
  Stmt.close s;
  (* a connection made before Db.close stays usable; a new one cannot be made *)
  let c2 = ok (Conn.connect db) in
  Db.close db;
  Db.close db;
  ignore (expect_error ~kind:`Closed (Conn.connect db));
  Alcotest.check value "old connection works" (Value.Integer 1L) (scalar c2 "SELECT 1");
  Conn.close c2

let test_readonly_missing_file () =
  let path = tmp_path () in
  let e = expect_error ~kind:`Sql ~contains:"cannot open" (Db.open_local ~mode:`Read_only path) in
  Alcotest.(check (option string)) "code" (Some "SQLITE_CANTOPEN") (Option.map Error.code_name e.code);
  ignore (expect_error ~contains:"cannot open" (Db.open_local ~mode:`Read_write path));
  Alcotest.(check bool) "no file created" false (Sys.file_exists path)

let test_readonly_write () =
  with_file (fun path _ c ->
      exec c "CREATE TABLE t (x)";
      exec c "INSERT INTO t VALUES (1)";
      let ro = ok (Db.open_local ~mode:`Read_only path) in
      let rc = ok (Conn.connect ro) in
      let e = expect_error ~kind:`Sql (Conn.execute rc "INSERT INTO t VALUES (2)") in
      Alcotest.(check (option string)) "code" (Some "SQLITE_READONLY") (Option.map Error.code_name e.code);
      Alcotest.(check int) "readable" 1 (count rc "t");
      Conn.close rc;
      Db.close ro)

let test_panic_is_error () =
  let e = expect_error ~kind:`Internal ~contains:"panic" (Private.test_panic ()) in
  ignore e;
  with_mem (fun c -> Alcotest.check value "still works" (Value.Integer 1L) (scalar c "SELECT 1"))

let test_error_to_string () =
  let e = { Error.kind = `Constraint; code = Some 2067; message = "UNIQUE constraint failed: t.u"; sql = Some "INSERT" } in
  Alcotest.(check string) "format"
    "constraint error: UNIQUE constraint failed: t.u (SQLITE_CONSTRAINT_UNIQUE, code 2067) in SQL: INSERT"
    (Error.to_string e);
  (* one line whatever the statement: whitespace folded, a long one cut *)
  let multi = { e with message = "near \"x\":\n syntax error"; sql = Some "SELECT 1,\n\t2\r\n  FROM t\n" } in
  Alcotest.(check string) "folded"
    "constraint error: near \"x\": syntax error (SQLITE_CONSTRAINT_UNIQUE, code 2067) in SQL: SELECT 1, 2 FROM t"
    (Error.to_string multi);
  let long_sql = "SELECT '" ^ String.concat "" (List.init 1000 (fun _ -> "\xc3\xa9")) ^ "'" in
  let s = Error.to_string { e with sql = Some long_sql } in
  Alcotest.(check bool) ("cut with an ellipsis: " ^ s) true
    (String.length s < 300 && String.sub s (String.length s - 3) 3 = "...");
  Alcotest.(check bool) "cut at a character boundary" true
    (String.index_opt s '\n' = None && Char.code s.[String.length s - 4] <> 0xc3);
  (* and a real multi-line statement's error, from the engine *)
  with_mem (fun c ->
      let e = expect_error ~kind:`Sql (Conn.execute c "SELECT *\nFROM\n  missing_table\nWHERE 1") in
      let s = Error.to_string e in
      Alcotest.(check bool) ("no newline in: " ^ s) true (not (String.contains s '\n')));
  Alcotest.(check string) "primary" "SQLITE_BUSY" (Error.code_name 5);
  Alcotest.(check string) "extended" "SQLITE_IOERR_SHORT_READ" (Error.code_name 522);
  Alcotest.(check bool) "busy is transient" true (Error.is_transient { e with kind = `Busy });
  Alcotest.(check bool) "constraint is not" false (Error.is_transient e);
  match ok_exn (Error e : (unit, Error.t) result) with
  | () -> Alcotest.fail "ok_exn did not raise"
  | exception Error.E e' -> Alcotest.(check int) "raised" 2067 (Option.get e'.code)

(* -------------------------------------------------------- batch, script *)

let test_batch_atomic () =
  with_mem (fun c ->
      ok (Conn.batch c "CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
      Alcotest.(check int) "ran" 2 (count c "t");
      let e = expect_error ~kind:`Constraint ~contains:"statement 2"
          (Conn.batch c "INSERT INTO t VALUES (3); INSERT INTO t VALUES (4); INSERT INTO t VALUES (1); INSERT INTO t VALUES (5)") in
      Alcotest.(check (option string)) "failing statement" (Some " INSERT INTO t VALUES (1);") e.sql;
      Alcotest.(check int) "nothing of it stays" 2 (count c "t");
      let _ = expect_error ~kind:`Sql ~contains:"statement 1" (Conn.batch c "INSERT INTO t VALUES (6); INSERT INTO nope VALUES (1)") in
      Alcotest.(check int) "nothing of it stays (prepare error)" 2 (count c "t");
      let _ = expect_error ~kind:`Misuse ~contains:"BEGIN" (Conn.batch c "INSERT INTO t VALUES (7); COMMIT; INSERT INTO t VALUES (8)") in
      Alcotest.(check int) "no transaction control in a batch" 2 (count c "t");
      Alcotest.(check bool) "no transaction left open" true (ok (Conn.is_autocommit c));
      ok (Conn.batch c "-- only a comment");
      ok (Conn.batch c ""))

let test_batch_inside_transaction () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x UNIQUE)";
      let r =
        Conn.with_transaction c (fun c ->
            exec c "INSERT INTO t VALUES (1)";
            ignore (expect_error ~kind:`Constraint (Conn.batch c "INSERT INTO t VALUES (2); INSERT INTO t VALUES (1)"));
            Alcotest.(check int) "batch rolled back to its savepoint" 1 (count c "t");
            Conn.batch c "INSERT INTO t VALUES (3)")
      in
      ok r;
      Alcotest.(check int) "outer committed" 2 (count c "t"))

let test_script () =
  with_mem (fun c ->
      ok (Conn.script c "CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1)");
      let _ = expect_error ~kind:`Constraint ~contains:"statement 1"
          (Conn.script c "INSERT INTO t VALUES (2); INSERT INTO t VALUES (1); INSERT INTO t VALUES (3)") in
      Alcotest.(check int) "statements before the error stay, after it do not run" 2 (count c "t");
      let _ = expect_error ~kind:`Constraint
          (Conn.script c "BEGIN; INSERT INTO t VALUES (10); INSERT INTO t VALUES (1); COMMIT") in
      Alcotest.(check bool) "script's own transaction rolled back, not left open" true (ok (Conn.is_autocommit c));
      Alcotest.(check int) "nothing of the failed transaction" 2 (count c "t");
      ok (Conn.script c "BEGIN; INSERT INTO t VALUES (20); COMMIT;");
      Alcotest.(check int) "own transaction committed" 3 (count c "t"))

(* ---------------------------------------------------------- transactions *)

let test_with_transaction () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x)";
      let v = ok (Conn.with_transaction c (fun c -> exec c "INSERT INTO t VALUES (1)"; Ok 42)) in
      Alcotest.(check int) "result" 42 v;
      Alcotest.(check int) "committed" 1 (count c "t");
      let e = { Error.kind = `Misuse; code = None; message = "app says no"; sql = None } in
      let r = Conn.with_transaction c (fun c -> exec c "INSERT INTO t VALUES (2)"; Error e) in
      ignore (expect_error ~contains:"app says no" r);
      Alcotest.(check int) "rolled back on Error" 1 (count c "t");
      (match Conn.with_transaction c (fun c -> exec c "INSERT INTO t VALUES (3)"; failwith "boom") with
       | _ -> Alcotest.fail "exception swallowed"
       | exception Failure m -> Alcotest.(check string) "re-raised" "boom" m);
      Alcotest.(check int) "rolled back on exception" 1 (count c "t");
      Alcotest.(check bool) "no transaction left open" true (ok (Conn.is_autocommit c));
      List.iter
        (fun behavior ->
          ok (Conn.with_transaction ~behavior c (fun c ->
                  Alcotest.(check bool) "inside" false (ok (Conn.is_autocommit c));
                  Ok (exec c "INSERT INTO t VALUES (4)"))))
        [ `Deferred; `Immediate; `Exclusive ];
      Alcotest.(check int) "behaviors" 4 (count c "t"))

let test_nested_transaction () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x)";
      ok
        (Conn.with_transaction c (fun c ->
             exec c "INSERT INTO t VALUES (1)";
             ignore (Conn.with_transaction c (fun c -> exec c "INSERT INTO t VALUES (2)"; Error (Error.make `Misuse "inner")));
             Alcotest.(check int) "inner rolled back" 1 (count c "t");
             ok (Conn.with_transaction c (fun c -> Ok (exec c "INSERT INTO t VALUES (3)")));
             Ok ()));
      Alcotest.(check int) "outer and second inner committed" 2 (count c "t"))

let test_execute_transaction () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (x UNIQUE)";
      ok (Conn.execute_transaction c [ "INSERT INTO t VALUES (1)"; "INSERT INTO t VALUES (2)" ]);
      Alcotest.(check int) "all" 2 (count c "t");
      ignore (expect_error ~kind:`Constraint
                (Conn.execute_transaction c [ "INSERT INTO t VALUES (3)"; "INSERT INTO t VALUES (1)" ]));
      Alcotest.(check int) "none" 2 (count c "t"))

(* ------------------------------------------------- statements and cursors *)

let test_prepared_reuse () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)";
      let ins = ok (Conn.prepare c "INSERT INTO t (name) VALUES (:name)") in
      Alcotest.(check int) "parameter_count" 1 (ok (Stmt.parameter_count ins));
      for i = 1 to 100 do
        Alcotest.(check int64) "changes" 1L (ok (Stmt.execute ins ~params:(`Named [ ("name", Value.text (string_of_int i)) ])));
        Alcotest.(check int64) "rowid" (Int64.of_int i) (ok (Conn.last_insert_rowid c))
      done;
      Alcotest.(check int64) "Conn.changes" 1L (ok (Conn.changes c));
      let sel = ok (Conn.prepare c "SELECT name FROM t WHERE id = ?") in
      for i = 1 to 100 do
        let rows = ok (Rows.to_list (ok (Stmt.query sel ~params:(`Positional [ Value.int i ])))) in
        match rows with
        | [ r ] -> Alcotest.check value "lookup" (Value.text (string_of_int i)) (Row.get r 0)
        | _ -> Alcotest.fail "one row expected"
      done;
      for i = 1 to 100 do
        match ok (Stmt.query_one sel ~params:(`Positional [ Value.int i ])) with
        | Some r -> Alcotest.check value "query_one" (Value.text (string_of_int i)) (Row.get r 0)
        | None -> Alcotest.fail "query_one: no row"
      done;
      Alcotest.(check (option (of_pp Row.pp))) "query_one, no row" None
        (ok (Stmt.query_one sel ~params:(`Positional [ Value.int 1000 ])));
      (* query_one leaves no read transaction behind: the statement is reset *)
      let all = ok (Conn.prepare c "SELECT id FROM t ORDER BY id") in
      Alcotest.check value "first of many" (Value.int 1) (Row.get (Option.get (ok (Stmt.query_one all))) 0);
      Alcotest.(check int) "query after query_one reads all" 100 (List.length (ok (Rows.to_list (ok (Stmt.query all)))));
      Stmt.close ins;
      Stmt.close sel)

let test_execute_many () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)";
      let ins = ok (Conn.prepare c "INSERT INTO t VALUES (?, ?)") in
      let sets = List.init 1000 (fun i -> [ Value.int i; Value.text ("v" ^ string_of_int i) ]) in
      Alcotest.(check int64) "total changes" 1000L (ok (Stmt.execute_many ins sets));
      Alcotest.(check int) "inserted" 1000 (count c "t");
      let e = expect_error ~kind:`Constraint ~contains:"parameter set 2"
          (Stmt.execute_many ins [ [ Value.int 5000; Value.Null ]; [ Value.int 5001; Value.Null ]; [ Value.int 3; Value.Null ] ]) in
      ignore e;
      Alcotest.(check int) "all or nothing" 1000 (count c "t");
      ignore (expect_error ~kind:`Misuse ~contains:"parameter set 0" (Stmt.execute_many ins [ [ Value.int 1 ] ]));
      Alcotest.(check bool) "no transaction left open" true (ok (Conn.is_autocommit c)))

let test_streaming () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (i INTEGER, s TEXT)";
      let ins = ok (Conn.prepare c "INSERT INTO t VALUES (?, ?)") in
      ignore (ok (Stmt.execute_many ins (List.init 10_000 (fun i -> [ Value.int i; Value.text (string_of_int i) ]))));
      let sum =
        ok (Conn.fold c "SELECT i, s FROM t ORDER BY i" ~init:0 ~f:(fun acc r ->
                (match Row.get r 1 with Value.Text s -> assert (int_of_string s = (match Row.get r 0 with Value.Integer i -> Int64.to_int i | _ -> -1)) | _ -> assert false);
                acc + match Row.get r 0 with Value.Integer i -> Int64.to_int i | _ -> 0))
      in
      Alcotest.(check int) "sum over 10k rows in chunks" (9999 * 10000 / 2) sum;
      let rows = ok (Conn.query c "SELECT i AS n, s FROM t") in
      Alcotest.(check (array string)) "columns" [| "n"; "s" |] (Rows.columns rows);
      Alcotest.(check (array (option string))) "decltypes" [| Some "INTEGER"; Some "TEXT" |] (Rows.decltypes rows);
      let n = ref 0 in
      ok (Rows.iter rows ~f:(fun _ -> incr n));
      Alcotest.(check int) "iter" 10_000 !n;
      Alcotest.(check (option (of_pp Row.pp))) "exhausted" None (ok (Rows.next rows));
      let empty = ok (Conn.query_list c "SELECT * FROM t WHERE i < 0") in
      Alcotest.(check int) "empty result" 0 (List.length empty);
      let first = ok (Conn.query_one c "SELECT i FROM t ORDER BY i DESC") in
      Alcotest.check value "query_one" (Value.int 9999) (Row.get (Option.get first) 0))

let test_row_access () =
  with_mem (fun c ->
      let r = Option.get (ok (Conn.query_one c "SELECT 1 AS a, 'x' AS b, NULL AS c")) in
      Alcotest.(check int) "length" 3 (Row.length r);
      Alcotest.(check (option value)) "find" (Some (Value.text "x")) (Row.find r "b");
      Alcotest.(check (option value)) "find missing" None (Row.find r "zz");
      ignore (expect_error ~kind:`Decode ~contains:"zz" (Row.column r "zz"));
      Alcotest.(check (list (pair string value))) "to_list"
        [ ("a", Value.int 1); ("b", Value.text "x"); ("c", Value.Null) ] (Row.to_list r);
      Alcotest.check_raises "get out of range" (Invalid_argument "Turso.Row.get: column out of range")
        (fun () -> ignore (Row.get r 3)))

let test_stale_cursor () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (i)";
      let ins = ok (Conn.prepare c "INSERT INTO t VALUES (?)") in
      ignore (ok (Stmt.execute_many ins (List.init 2000 (fun i -> [ Value.int i ]))));
      let sel = ok (Conn.prepare c "SELECT i FROM t") in
      let r1 = ok (Stmt.query sel) in
      ignore (ok (Rows.next r1));
      let r2 = ok (Stmt.query sel) in
      (* r1 still has rows of its first chunk in hand: its very next read is
         already an error, as the .mli promises, not a stale row *)
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next r1));
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next r1));
      (* so do Stmt.query and Stmt.query_one *)
      let r3 = ok (Stmt.query sel) in
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next r2));
      ignore (ok (Stmt.query_one sel));
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next r3));
      let r2 = ok (Stmt.query sel) in
      Alcotest.(check int) "r2 reads everything" 2000 (List.length (ok (Rows.to_list r2)));
      (* a small result, whole in its first chunk: the same *)
      let small = ok (Conn.prepare c "SELECT i FROM t WHERE i < 5") in
      let r4 = ok (Stmt.query small) in
      ignore (ok (Rows.next r4));
      ignore (ok (Stmt.query_one small));
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next r4));
      Stmt.close small)

let test_rows_close_releases_lock () =
  with_file (fun _ db c ->
      exec c "CREATE TABLE t (i)";
      let ins = ok (Conn.prepare c "INSERT INTO t VALUES (?)") in
      ignore (ok (Stmt.execute_many ins (List.init 5000 (fun i -> [ Value.int i ]))));
      let other = ok (Conn.connect ~busy_timeout:0. db) in
      let rows = ok (Conn.query c "SELECT i FROM t") in
      ignore (ok (Rows.next rows));
      (* rollback-journal mode: an open reader blocks the writer *)
      let e = expect_error ~kind:`Busy (Conn.execute other "INSERT INTO t VALUES (-1)") in
      Alcotest.(check bool) "busy is transient" true (Error.is_transient e);
      Rows.close rows;
      Rows.close rows;
      ignore (expect_error ~kind:`Closed (Rows.next rows));
      exec other "INSERT INTO t VALUES (-1)";
      Conn.close other)

let test_closing_conn_closes_statements () =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  exec c "CREATE TABLE t (i)";
  ignore (ok (Stmt.execute_many (ok (Conn.prepare c "INSERT INTO t VALUES (?)")) (List.init 1000 (fun i -> [ Value.int i ]))));
  let rows = ok (Conn.query c "SELECT i FROM t") in
  ignore (ok (Rows.next rows));
  Conn.close c;
  let rec drain () = match Rows.next rows with Ok (Some _) -> drain () | other -> other in
  ignore (expect_error ~kind:`Closed (drain ()));
  Db.close db

let test_conn_info () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (id INTEGER PRIMARY KEY, x)";
      Alcotest.(check int64) "insert changes" 1L (ok (Conn.execute c "INSERT INTO t (x) VALUES (1)"));
      exec c "INSERT INTO t (x) VALUES (1)";
      Alcotest.(check int64) "rowid" 2L (ok (Conn.last_insert_rowid c));
      Alcotest.(check int64) "update changes" 2L (ok (Conn.execute c "UPDATE t SET x = 2"));
      Alcotest.(check int64) "changes" 2L (ok (Conn.changes c));
      let r = ok (Conn.query_list c "INSERT INTO t (x) VALUES (9) RETURNING id, x") in
      Alcotest.(check (list (list value))) "RETURNING rows" [ [ Value.int 3; Value.int 9 ] ]
        (List.map (fun r -> Array.to_list (Row.values r)) r);
      ok (Conn.set_busy_timeout c 1.5))

let test_memory_shared () =
  let db = ok (Db.open_local ":memory:") in
  let a = ok (Conn.connect db) and b = ok (Conn.connect db) in
  exec a "CREATE TABLE t (x)";
  exec a "INSERT INTO t VALUES (1)";
  Alcotest.(check int) "second connection sees it" 1 (count b "t");
  let db2 = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db2) in
  ignore (expect_error ~kind:`Sql ~contains:"no such table" (Conn.query_list c "SELECT * FROM t"));
  List.iter Conn.close [ a; b; c ];
  Db.close db;
  Db.close db2

let test_file_persists () =
  let path = tmp_path () in
  let db = ok (Db.open_local path) in
  let c = ok (Conn.connect db) in
  exec c "CREATE TABLE t (x)";
  exec c "INSERT INTO t VALUES ('kept')";
  Conn.close c;
  Db.close db;
  let db = ok (Db.open_local ~mode:`Read_write path) in
  let c = ok (Conn.connect db) in
  Alcotest.check value "reopened" (Value.text "kept") (scalar c "SELECT x FROM t");
  Conn.close c;
  Db.close db;
  cleanup path


let test_remaining_api () =
  with_mem (fun c ->
      exec c "CREATE TABLE t (i INTEGER, s TEXT)";
      let ins = ok (Conn.prepare c "INSERT INTO t VALUES (?, ?)") in
      ignore (ok (Stmt.execute_many ins (List.init 600 (fun i -> [ Value.int i; Value.text "x" ]))));
      (* Conn.iter *)
      let n = ref 0 in
      ok (Conn.iter c "SELECT i FROM t" ~f:(fun _ -> incr n));
      Alcotest.(check int) "Conn.iter" 600 !n;
      (* Rows.fold on a prepared statement, Row.columns *)
      let sel = ok (Conn.prepare c "SELECT i, s FROM t WHERE i < ?") in
      let rows = ok (Stmt.query sel ~params:(`Positional [ Value.int 300 ])) in
      let cols = ref [||] in
      let sum = ok (Rows.fold rows ~init:0 ~f:(fun acc r ->
          cols := Row.columns r;
          acc + match Row.get r 0 with Value.Integer i -> Int64.to_int i | _ -> 0)) in
      Alcotest.(check int) "Rows.fold" (299 * 300 / 2) sum;
      Alcotest.(check (array string)) "Row.columns" [| "i"; "s" |] !cols;
      (* Stmt.reset abandons a result set being read *)
      let rows = ok (Stmt.query sel ~params:(`Positional [ Value.int 600 ])) in
      ignore (ok (Rows.next rows));
      ok (Stmt.reset sel);
      ignore (expect_error ~kind:`Misuse ~contains:"invalidated" (Rows.next rows));
      (* and the statement runs again from the start *)
      Alcotest.(check int) "after reset" 10 (List.length (ok (Rows.to_list (ok (Stmt.query sel ~params:(`Positional [ Value.int 10 ]))))));
      Stmt.close sel;
      Stmt.close sel;
      ignore (expect_error ~kind:`Closed (Stmt.reset sel));
      ignore (expect_error ~kind:`Closed (Stmt.parameter_count sel));
      (* Value helpers, Error.pp, Syntax *)
      Alcotest.(check (list string)) "type_name" [ "NULL"; "INTEGER"; "REAL"; "TEXT"; "BLOB" ]
        (List.map Value.type_name Value.[ Null; int64 1L; float 1.; text ""; blob "" ]);
      let e = Error.make ~code:5 ~sql:"SELECT 1" `Busy "locked" in
      Alcotest.(check string) "Error.pp" (Error.to_string e) (Format.asprintf "%a" Error.pp e);
      Alcotest.(check string) "kind_to_string" "busy" (Error.kind_to_string e.kind);
      let open Syntax in
      let r =
        let* a = Ok 1 in
        let+ b = Ok 2 in
        a + b
      in
      Alcotest.(check (result int reject)) "let* let+" (Ok 3) r;
      let r : (int, Error.t) result = let* _ = Error e in Ok 1 in
      Alcotest.(check bool) "let* stops at Error" true (Result.is_error r))

(* --------------------------------------------------------------- threads *)

let test_threads_hammer () =
  with_file ~wal:true (fun _ db c ->
      exec c "CREATE TABLE t (thread INTEGER, i INTEGER)";
      let per_thread = 300 in
      let failures = Atomic.make 0 in
      let worker k () =
        let conn = ok (Conn.connect ~busy_timeout:30. db) in
        let ins = ok (Conn.prepare conn "INSERT INTO t VALUES (?, ?)") in
        for i = 1 to per_thread do
          (match Stmt.execute ins ~params:(`Positional [ Value.int k; Value.int i ]) with
           | Ok 1L -> ()
           | _ -> Atomic.incr failures);
          if i mod 50 = 0 then
            match Conn.query_one conn "SELECT count(*) FROM t WHERE thread = ?" ~params:(`Positional [ Value.int k ]) with
            | Ok (Some r) when Value.equal (Row.get r 0) (Value.int i) -> ()
            | _ -> Atomic.incr failures
        done;
        Conn.close conn
      in
      let threads = List.init 4 (fun k -> Thread.create (worker k) ()) in
      List.iter Thread.join threads;
      Alcotest.(check int) "no failed call" 0 (Atomic.get failures);
      Alcotest.(check int) "all rows" (4 * per_thread) (count c "t");
      for k = 0 to 3 do
        Alcotest.check value "per thread" (Value.int per_thread)
          (scalar c "SELECT count(DISTINCT i) FROM t WHERE thread = ?" ~params:(`Positional [ Value.int k ]))
      done)

let test_runtime_released () =
  (* While one thread waits in SQLite, another OCaml thread must run. *)
  with_mem (fun c ->
      let counter = ref 0 and stop = ref false in
      let spinner = Thread.create (fun () -> while not !stop do incr counter; Thread.yield () done) () in
      Thread.delay 0.01;
      let before = !counter in
      let r = Conn.query_one c
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n" in
      let after = !counter in
      stop := true;
      Thread.join spinner;
      Alcotest.check value "query result" (Value.int 3000000) (Row.get (Option.get (ok r)) 0);
      if after - before < 10 then
        Alcotest.failf "the other thread did not run during the query (%d steps)" (after - before))

(* ----------------------------------------------------------------- suite *)

let heavy = [ "big values"; "threads" ]

let test_stats_local () =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  let st = ok (Db.stats db) in
  Alcotest.(check string) "mode" "memory" (Stats.mode_to_string st.Stats.mode);
  Alcotest.(check int64) "nothing run yet" 0L st.Stats.statements;
  ignore (ok (Conn.execute c "CREATE TABLE t (x)"));
  ok (Conn.batch c "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)");
  let s = ok (Conn.prepare c "INSERT INTO t VALUES (?)") in
  ignore (ok (Stmt.execute_many s [ [ Value.int 4 ]; [ Value.int 5 ] ]));
  ignore (ok (Conn.query_list c "SELECT * FROM t"));
  let st = ok (Db.stats db) in
  Alcotest.(check int64) "1 + 3 (batch) + 2 (sets) + 1" 7L st.Stats.statements;
  Alcotest.(check int) "no syncs" 0 st.Stats.syncs;
  Alcotest.(check (option int64)) "no frame" None st.Stats.frame_no;
  Alcotest.(check (option string)) "no sync error" None st.Stats.last_sync_error;
  Alcotest.(check string) "printed" "mode                memory"
    (List.hd (String.split_on_char '\n' (Format.asprintf "%a" Stats.pp st)));
  Conn.close c;
  Db.close db;
  (match Db.stats db with Error e -> Alcotest.(check bool) "closed" true (e.kind = `Closed) | Ok _ -> Alcotest.fail "stats after close");
  let f = Filename.temp_file "turso-stats" ".db" in
  let db = ok (Db.open_local f) in
  Alcotest.(check string) "file mode" "file" (Stats.mode_to_string (ok (Db.stats db)).Stats.mode);
  Db.close db;
  Sys.remove f

(* A fake operation failing [n] times with [e] before it succeeds. *)
let flaky n e =
  let calls = ref 0 in
  (calls, fun () -> incr calls; if !calls <= n then Error e else Ok !calls)

(* Every duration argument is checked: a bad one is a Misuse error naming
   it, and nothing runs (before: retry raised Unix_error from the sleep and
   open_remote accepted nan). *)
let test_bad_durations () =
  let runs = ref 0 in
  let busy () = incr runs; Error (Error.make `Busy "locked") in
  List.iter
    (fun (name, r) ->
      let e = expect_error ~kind:`Misuse ~contains:name r in
      Alcotest.(check bool) ("names the value: " ^ e.message) true (String.length e.message > 0))
    [ ("base_delay", retry ~base_delay:nan busy); ("base_delay", retry ~base_delay:(-1.) busy);
      ("max_delay", retry ~max_delay:infinity busy); ("attempts", retry ~attempts:0 busy) ];
  Alcotest.(check int) "f never ran" 0 !runs;
  let url = "http://127.0.0.1:9" and auth_token = "" in
  List.iter
    (fun t -> ignore (expect_error ~kind:`Misuse ~contains:"timeout" (Db.open_remote ~timeout:t ~url ~auth_token ())))
    [ nan; 0.; -1.; infinity; 1e300 ];
  let path = Filename.temp_file "turso" ".db" in
  ignore (expect_error ~kind:`Misuse ~contains:"sync_interval" (Db.open_replica ~sync_interval:nan ~path ~url ~auth_token ()));
  ignore (expect_error ~kind:`Misuse ~contains:"sync_timeout" (Db.open_replica ~sync_timeout:0. ~path ~url ~auth_token ()));
  Sys.remove path;
  let db = ok (Db.open_local ":memory:") in
  ignore (expect_error ~kind:`Misuse ~contains:"busy_timeout" (Conn.connect ~busy_timeout:nan db));
  let c = ok (Conn.connect ~busy_timeout:0. db) in
  ignore (expect_error ~kind:`Misuse ~contains:"set_busy_timeout" (Conn.set_busy_timeout c (-0.5)));
  ok (Conn.set_busy_timeout c 1.);
  Conn.close c;
  Db.close db

(* After fork(), the child of a process that has opened databases gets a
   Misuse error from every call (it used to crash or hang: the stub's
   threads do not survive a fork); the parent goes on. Child's verdict in
   its exit code. *)
let test_fork () =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  exec c "CREATE TABLE f (x)";
  flush_all ();
  match Unix.fork () with
  | 0 ->
    let misuse r =
      match r with
      | Error (e : Error.t) -> e.kind = `Misuse && Str.string_match (Str.regexp ".*fork") e.message 0
      | Ok _ -> false
    in
    let checks =
      [ misuse (Conn.execute c "INSERT INTO f VALUES (1)");
        misuse (Conn.query_one c "SELECT 1");
        misuse (Db.open_local ":memory:");
        misuse (Db.open_remote ~timeout:1. ~url:"http://127.0.0.1:9" ~auth_token:"" ()) ]
    in
    Unix._exit (if List.for_all Fun.id checks then 0 else 3)
  | pid ->
    let status = snd (Unix.waitpid [] pid) in
    Alcotest.(check bool) "the child got Misuse errors, and no crash" true (status = Unix.WEXITED 0);
    exec c "INSERT INTO f VALUES (2)";
    Alcotest.(check int) "the parent goes on" 1 (count c "f");
    Conn.close c;
    Db.close db

let test_retry () =
  let busy = Error.make `Busy "database is locked" in
  let delays = ref [] in
  let on_retry ~attempt ~delay _ = delays := (attempt, delay) :: !delays in
  let calls, f = flaky 2 busy in
  Alcotest.(check int) "succeeds on the third try" 3 (ok (retry ~base_delay:0.01 ~on_retry f));
  Alcotest.(check int) "three calls" 3 !calls;
  (* delay before attempt n+1: in [d/2, d], d = base * 2^(n-1) *)
  List.iter
    (fun (attempt, delay) ->
      let d = 0.01 *. (2. ** float_of_int (attempt - 1)) in
      Alcotest.(check bool) (Printf.sprintf "delay %d = %.4f in [%.4f, %.4f]" attempt delay (d /. 2.) d) true
        (delay >= d /. 2. && delay <= d))
    !delays;
  Alcotest.(check (list int)) "retried after attempts 1 and 2" [ 2; 1 ] (List.map fst !delays);
  let calls, f = flaky 10 (Error.make `Network "connection refused") in
  (match retry ~attempts:3 ~base_delay:0.001 f with
   | Error e -> Alcotest.(check bool) "the last error" true (e.kind = `Network)
   | Ok _ -> Alcotest.fail "should give up");
  Alcotest.(check int) "bounded: 3 attempts" 3 !calls;
  let calls, f = flaky 10 (Error.make `Constraint "UNIQUE constraint failed") in
  ignore (retry ~base_delay:0.001 f);
  Alcotest.(check int) "not transient: no retry" 1 !calls;
  delays := [];
  let _, f = flaky 10 (Error.make `Timeout "slow") in
  ignore (retry ~attempts:8 ~base_delay:0.001 ~max_delay:0.004 ~on_retry f);
  Alcotest.(check bool) "capped by max_delay" true (List.for_all (fun (_, d) -> d <= 0.004) !delays);
  (* a real transient fault: the write lock held by another connection *)
  let path = Filename.temp_file "turso-retry" ".db" in
  let db = ok (Db.open_local path) in
  let a = ok (Conn.connect db) and b = ok (Conn.connect ~busy_timeout:0. db) in
  ignore (ok (Conn.execute a "CREATE TABLE t (x)"));
  ignore (ok (Conn.execute a "BEGIN IMMEDIATE"));
  let tries = ref 0 in
  let r =
    retry ~attempts:5 ~base_delay:0.01
      ~on_retry:(fun ~attempt ~delay:_ _ -> if attempt = 2 then ignore (ok (Conn.execute a "COMMIT")))
      (fun () -> incr tries; Conn.execute b "INSERT INTO t VALUES (1)")
  in
  Alcotest.(check int64) "written once the lock is free" 1L (ok r);
  Alcotest.(check int) "after three tries" 3 !tries;
  Conn.close a; Conn.close b; Db.close db; Sys.remove path

(* Vector encoding without a database: what is refused when encoding, and
   what is not guessed at when decoding (test/modes checks the bytes
   against libSQL's own vector32/vector64). *)
let test_vector_checks () =
  let has s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false in
  let refused what sub f =
    match f () with
    | _ -> Alcotest.failf "%s: accepted" what
    | exception Invalid_argument m -> Alcotest.(check bool) (what ^ ": " ^ m) true (has m sub)
  in
  refused "empty" "an empty vector" (fun () -> Vector.F32.to_value [||]);
  refused "NaN" "element 1 is NaN" (fun () -> Vector.F32.to_value [| 1.; Float.nan |]);
  refused "infinity" "element 0 is inf" (fun () -> Vector.F64.to_value [| Float.infinity |]);
  refused "beyond single precision" "too large for single precision" (fun () -> Vector.F32.to_value [| 1e39 |]);
  (* the largest single is kept; a double beyond it is fine as F64 *)
  ignore (Vector.F32.to_value [| 3.4028234663852886e38 |]);
  ignore (Vector.F64.to_value [| 1e39 |]);
  let not_read what v sub =
    match Vector.of_value v with
    | Ok _ -> Alcotest.failf "%s: read as a vector" what
    | Error m -> Alcotest.(check bool) (what ^ ": " ^ m) true (has m sub)
  in
  not_read "text" (Value.text "[1,2]") "TEXT, not a vector blob";
  not_read "NULL" Value.Null "NULL";
  not_read "empty blob" (Value.blob "") "empty blob";
  not_read "a type byte alone" (Value.blob "\002") "one byte";
  not_read "F32 of 6 bytes" (Value.blob "abcdef") "not a multiple of 4";
  not_read "F64 of 6 bytes" (Value.blob "abcdef\002") "not a multiple of 8";
  not_read "1BIT" (Value.blob "\x01\x0e\x03") "1BIT";
  not_read "unknown type" (Value.blob "\x00\x00\x09") "type 9, which libSQL does not define";
  Alcotest.(check (result (array (float 0.)) string)) "F32 without its type byte" (Ok [| 1.; 2. |])
    (Vector.of_value (Vector.F32.to_value [| 1.; 2. |]));
  Alcotest.(check (result (array (float 0.)) string)) "F32 with its type byte" (Ok [| 1. |])
    (Vector.of_value (Value.blob "\x00\x00\x80\x3f\x01"))

(* Tracing through Logs: the messages a reporter receives, by level. *)
let test_trace () =
  let has s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false in
  Check.with_captured @@ fun messages ->
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  (* off (Logs' default level, Warning): nothing *)
  ignore (ok (Conn.execute c "CREATE TABLE t (x INTEGER, secret TEXT)"));
  Alcotest.(check int) "below Debug: no message" 0 (List.length (messages ()));
  Logs.Src.set_level Trace.src (Some Logs.Debug);
  ignore (ok (Conn.execute c "INSERT INTO t\n   VALUES (?, ?)" ~params:(`Positional [ Value.int 1; Value.text "hunter2" ])));
  (match messages () with
   | [ (Logs.Debug, m) ] ->
     Alcotest.(check bool) ("mode, SQL on one line, rows: " ^ m) true
       (has m "local " && has m " ms: INSERT INTO t VALUES (?, ?)" && has m "1 row changed");
     Alcotest.(check bool) ("types, not values: " ^ m) true (has m "[INTEGER, TEXT]" && not (has m "hunter2"))
   | l -> Alcotest.failf "one debug message expected, got %d" (List.length l));
  Trace.set_show_params true;
  ignore (ok (Conn.query_one c "SELECT x FROM t WHERE secret = :s" ~params:(`Named [ ("s", Value.text "hunter2") ])));
  (match messages () with
   | [ (Logs.Debug, m) ] -> Alcotest.(check bool) ("values when asked: " ^ m) true (has m "s 'hunter2'" && has m "-> 1 row")
   | l -> Alcotest.failf "query_one: one message expected, got %d" (List.length l));
  Trace.set_show_params false;
  (* statements, streamed results, errors; long SQL cut *)
  let st = ok (Conn.prepare c "SELECT x FROM t") in
  let rows = ok (Stmt.query st) in
  ignore (ok (Rows.to_list rows));
  ignore (Conn.execute c "INSERT INTO nowhere VALUES (1)");
  ignore (ok (Conn.query_one c ("SELECT 1 -- " ^ String.make 500 'x')));
  (match messages () with
   | [ (_, q); (_, e); (_, long) ] ->
     Alcotest.(check bool) ("a prepared statement's SQL: " ^ q) true (has q "SELECT x FROM t" && has q "streamed");
     Alcotest.(check bool) ("the error: " ^ e) true (has e "no such table: nowhere");
     Alcotest.(check bool) (Printf.sprintf "cut (%d bytes)" (String.length long)) true (String.length long < 300 && has long "…")
   | l -> Alcotest.failf "3 messages expected, got %d" (List.length l));
  (* slow statements: a warning at Logs' default level *)
  Logs.Src.set_level Trace.src (Some Logs.Warning);
  Trace.set_slow (Some 0.);
  ignore (ok (Conn.execute c "DELETE FROM t"));
  (match messages () with
   | [ (Logs.Warning, m) ] -> Alcotest.(check bool) ("slow: " ^ m) true (has m "slow statement" && has m "DELETE FROM t")
   | l -> Alcotest.failf "one warning expected, got %d" (List.length l));
  Trace.set_slow None;
  (* syncs at info, retries at warning *)
  Logs.Src.set_level Trace.src (Some Logs.Info);
  ignore (Db.sync db);
  (match messages () with
   | [ (Logs.Info, m) ] -> Alcotest.(check bool) ("sync: " ^ m) true (has m "local sync failed" && has m "misuse")
   | l -> Alcotest.failf "sync: one info message expected, got %d" (List.length l));
  let tries = ref 0 in
  ignore (retry ~base_delay:0.001 (fun () -> incr tries; if !tries < 3 then Error (Error.make `Busy "locked") else Ok ()));
  (match messages () with
   | [ (Logs.Warning, a); (Logs.Warning, b) ] ->
     Alcotest.(check bool) ("retries: " ^ a ^ " / " ^ b) true (has a "retry 1 of 3" && has b "retry 2 of 3" && has a "locked")
   | l -> Alcotest.failf "two retry warnings expected, got %d" (List.length l));
  (match Trace.set_slow (Some (-1.)) with
   | () -> Alcotest.fail "a negative threshold accepted"
   | exception Invalid_argument _ -> ());
  Conn.close c;
  Db.close db

(* ---------------------------------------------------------------- Pool *)

let with_pool_db f =
  let path = tmp_path () in
  let db = ok (Db.open_local path) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.query_list c "PRAGMA journal_mode=WAL"));
  ignore (ok (Conn.execute c "CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)"));
  Conn.close c;
  Fun.protect ~finally:(fun () -> Db.close db; cleanup path) (fun () -> f db)

let count_p c = match ok (Conn.query_one c "SELECT count(*) FROM p") with Some r -> Row.get r 0 | None -> Value.Null

let test_pool_bound () =
  with_pool_db @@ fun db ->
  ignore (expect_error ~kind:`Misuse ~contains:"size" (Pool.create ~size:0 db));
  ignore (expect_error ~kind:`Misuse ~contains:"max_wait" (Pool.create ~max_wait:Float.nan db));
  let pool = ok (Pool.create ~size:3 db) in
  Alcotest.(check int) "nothing made yet" 0 (Pool.idle pool);
  (* 8 threads, 20 calls each, each call holding its connection 1 ms:
     never more than 3 at once *)
  let in_use = Atomic.make 0 and most = Atomic.make 0 and failed = Atomic.make 0 in
  let rec raise_to n = let m = Atomic.get most in if n > m && not (Atomic.compare_and_set most m n) then raise_to n in
  let worker k () =
    for i = 1 to 20 do
      match
        Pool.use pool (fun c ->
            raise_to (Atomic.fetch_and_add in_use 1 + 1);
            let r = Conn.execute c "INSERT INTO p (v) VALUES (?)" ~params:(`Positional [ Value.text (Printf.sprintf "%d-%d" k i) ]) in
            Thread.delay 0.001;
            Atomic.decr in_use;
            r)
      with
      | Ok _ -> ()
      | Error _ -> Atomic.incr failed
    done
  in
  let ts = List.init 8 (fun k -> Thread.create (worker k) ()) in
  List.iter Thread.join ts;
  Alcotest.(check int) "every call ran" 0 (Atomic.get failed);
  Alcotest.(check bool) (Printf.sprintf "at most 3 at once (%d)" (Atomic.get most)) true (Atomic.get most <= 3);
  Alcotest.(check bool) (Printf.sprintf "calls in parallel (%d at once)" (Atomic.get most)) true (Atomic.get most >= 2);
  Alcotest.(check bool) "at most 3 connections made" true (Pool.idle pool <= 3 && Pool.idle pool >= 2);
  Alcotest.check value "every row" (Value.int 160) (ok (Pool.use pool (fun c -> Ok (count_p c))));
  Pool.close pool

let test_pool_wait () =
  with_pool_db @@ fun db ->
  let pool = ok (Pool.create ~size:1 ~max_wait:0.2 db) in
  let holding = Atomic.make false in
  let t = Thread.create (fun () -> ignore (Pool.use pool (fun _ -> Atomic.set holding true; Thread.delay 1.0; Ok ()))) () in
  while not (Atomic.get holding) do Thread.yield () done;
  let t0 = Unix.gettimeofday () in
  let e = expect_error ~kind:`Busy ~contains:"max_wait" (Pool.use pool (fun _ -> Ok ())) in
  let waited = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "waited max_wait, not more (%.3f s): %s" waited e.message) true (waited >= 0.19 && waited < 0.9);
  Thread.join t;
  (* given back: the next call gets it at once *)
  Alcotest.check value "free again" (Value.int 0) (ok (Pool.use pool (fun c -> Ok (count_p c))));
  (* a waiter gets the connection as soon as it is given back *)
  let pool = ok (Pool.create ~size:1 ~max_wait:5. db) in
  Atomic.set holding false;
  let t = Thread.create (fun () -> ignore (Pool.use pool (fun _ -> Atomic.set holding true; Thread.delay 0.3; Ok ()))) () in
  while not (Atomic.get holding) do Thread.yield () done;
  let t0 = Unix.gettimeofday () in
  ignore (ok (Pool.use pool (fun _ -> Ok ())));
  let waited = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "woken when it was given back (%.3f s)" waited) true (waited < 2.);
  Thread.join t

let test_pool_give_back () =
  with_pool_db @@ fun db ->
  let pool = ok (Pool.create ~size:1 db) in
  (* a transaction left open is rolled back *)
  ignore (ok (Pool.use pool (fun c ->
      ignore (ok (Conn.execute c "BEGIN"));
      Conn.execute c "INSERT INTO p (v) VALUES ('left open')")));
  ok (Pool.use pool (fun c ->
      Alcotest.(check bool) "autocommit again" true (ok (Conn.is_autocommit c));
      Alcotest.check value "rolled back" (Value.int 0) (count_p c);
      Ok ()));
  (* an exception passes through; the connection goes back, its transaction rolled back *)
  (match Pool.use pool (fun c -> ignore (ok (Conn.execute c "BEGIN")); ignore (ok (Conn.execute c "INSERT INTO p (v) VALUES ('x')")); failwith "boom") with
   | _ -> Alcotest.fail "the exception was swallowed"
   | exception Failure m -> Alcotest.(check string) "the exception" "boom" m);
  Alcotest.(check int) "the connection went back" 1 (Pool.idle pool);
  Alcotest.check value "its transaction rolled back" (Value.int 0) (ok (Pool.use pool (fun c -> Ok (count_p c))));
  (* a connection that no longer works is replaced *)
  ignore (ok (Pool.use pool (fun c -> Conn.close c; Ok ())));
  Alcotest.(check int) "the closed one is not kept" 0 (Pool.idle pool);
  Alcotest.check value "a new one" (Value.int 0) (ok (Pool.use pool (fun c -> Ok (count_p c))));
  (* with_transaction: on one connection, committed or rolled back *)
  ok (Pool.with_transaction pool (fun c ->
      ignore (ok (Conn.execute c "INSERT INTO p (v) VALUES ('a')"));
      Alcotest.(check bool) "in a transaction" false (ok (Conn.is_autocommit c));
      Ok ()));
  ignore (expect_error ~kind:`Constraint (Pool.with_transaction pool (fun c ->
      ignore (ok (Conn.execute c "INSERT INTO p (id, v) VALUES (100, 'b')"));
      Conn.execute c "INSERT INTO p (id, v) VALUES (100, 'dup')")));
  Alcotest.check value "the first committed, the second rolled back" (Value.int 1) (ok (Pool.use pool (fun c -> Ok (count_p c))));
  (* closed: later calls refused; a connection in use is closed when its call ends *)
  let pool2 = ok (Pool.create ~size:2 db) in
  ignore (ok (Pool.use pool2 (fun _ -> Ok ())));
  let kept = ref None in
  ignore (ok (Pool.use pool2 (fun c -> Pool.close pool2; kept := Some c; Ok ())));
  ignore (expect_error ~kind:`Closed (Conn.execute (Option.get !kept) "SELECT 1"));
  ignore (expect_error ~kind:`Closed ~contains:"pool is closed" (Pool.use pool2 (fun _ -> Ok ())));
  Alcotest.(check int) "nothing kept" 0 (Pool.idle pool2);
  Pool.close pool

let () =
  let tc name f = Alcotest.test_case name `Quick f in
  let suites =
    [ ( "values",
        [ tc "every type round-trips" test_value_roundtrip; tc "negative zero keeps its sign" test_negative_zero_bits;
          tc "NaN is refused" test_nan_rejected; tc "invalid UTF-8 Text parameter" test_invalid_utf8_text_param;
          tc "invalid UTF-8 TEXT read" test_invalid_utf8_text_read; tc "printing" test_value_pp ] );
      ("big values", [ tc "10 MB blob and text" test_big_blob; tc "multi-byte text 800 KB" test_big_text;
                       tc "a script of a million statements" test_long_script ]);
      ("parameters", [ tc "positional and named" test_params ]);
      ("vectors", [ tc "encoding refuses, decoding does not guess" test_vector_checks ]);
      ("tracing", [ tc "statements, slow ones, syncs, retries" test_trace ]);
      ( "errors",
        [ tc "invalid SQL" test_invalid_sql; tc "constraint violation" test_constraint;
          tc "NUL byte in SQL" test_nul_in_sql; tc "one statement expected" test_one_statement;
          tc "closed handles" test_closed; tc "read-only open of a missing file" test_readonly_missing_file;
          tc "write to a read-only database" test_readonly_write; tc "Rust panic becomes an error" test_panic_is_error;
          tc "to_string, code names, exn" test_error_to_string ] );
      ( "batch",
        [ tc "atomic batch" test_batch_atomic; tc "batch inside a transaction" test_batch_inside_transaction;
          tc "script" test_script ] );
      ( "transactions",
        [ tc "with_transaction" test_with_transaction; tc "nested" test_nested_transaction;
          tc "execute_transaction" test_execute_transaction ] );
      ( "statements",
        [ tc "prepared reuse" test_prepared_reuse; tc "execute_many" test_execute_many;
          tc "streaming" test_streaming; tc "row access" test_row_access; tc "stale cursor" test_stale_cursor;
          tc "Rows.close releases the read lock" test_rows_close_releases_lock;
          tc "closing a connection closes its statements" test_closing_conn_closes_statements;
          tc "changes, rowid, RETURNING" test_conn_info; tc ":memory: shared per Db" test_memory_shared;
          tc "file persists" test_file_persists; tc "iter, fold, reset, helpers" test_remaining_api ] );
      ("stats and retry", [ tc "stats of a local database" test_stats_local; tc "retry" test_retry; tc "bad durations" test_bad_durations; tc "fork: the child is refused" test_fork ]);
      ( "threads",
        [ tc "4 threads hammer one file" test_threads_hammer; tc "runtime lock released" test_runtime_released ] );
      ( "pool",
        [ tc "at most size connections, in parallel" test_pool_bound; tc "max_wait, then Busy" test_pool_wait;
          tc "given back: rolled back, replaced, closed" test_pool_give_back ] ) ]
  in
  let suites = if gc_stress then List.filter (fun (n, _) -> not (List.mem n heavy)) suites else suites in
  Alcotest.run (if gc_stress then "turso (GC stress)" else "turso") suites
