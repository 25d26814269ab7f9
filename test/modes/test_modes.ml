(* Semantics that users of the official libSQL clients rely on, checked
   the same way on every mode: a local file, a remote database and an
   embedded replica. Each case gets a connection and a fresh table name;
   the remote and replica groups run when SQLD_BIN names sqld's binary
   (test/support/sqld.ml starts it), and are reported as not run
   otherwise. *)

open Turso

open Check

let starts_with ~prefix s = String.length s >= String.length prefix && String.sub s 0 (String.length prefix) = prefix

type mode = Local | Remote | Replica | Synced

let token = "modes-token-5b2e"

type env = { mode : mode; db : Db.t; conn : Conn.t; table : string }

let counter = ref 0

(* A fresh table per case: [cols] after the table name. *)
let table env cols =
  incr counter;
  let name = Printf.sprintf "%s_%d" env.table !counter in
  ignore (ok (Conn.execute env.conn (Printf.sprintf "CREATE TABLE %s (%s)" name cols)));
  name

let values (r : Result_set.t) = List.map (fun row -> List.map Value.to_string (Array.to_list (Row.values row))) r.rows
let count env t = match ok (Conn.query_one env.conn ("SELECT count(*) FROM " ^ t)) with Some r -> Value.to_string (Row.get r 0) | None -> "?"

(* ---------------------------------------------------------------- batches *)

let batch_results env =
  let t = table env "id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL" in
  let rs =
    ok
      (Conn.batch_list env.conn
         [ (Printf.sprintf "INSERT INTO %s (name, score) VALUES (?, ?)" t, `Positional Value.[ text "ada"; float 1.5 ]);
           (Printf.sprintf "INSERT INTO %s (name, score) VALUES (:n, :s)" t, `Named Value.[ ("n", text "bob"); ("s", float 2.) ]);
           (Printf.sprintf "UPDATE %s SET score = score * 2" t, `Positional []);
           (Printf.sprintf "SELECT id, name, score, score + 1 AS plus FROM %s ORDER BY id" t, `Positional []) ])
  in
  match rs with
  | [ i1; i2; u; s ] ->
    Alcotest.(check int64) "insert 1: rows changed" 1L i1.rows_affected;
    Alcotest.(check (option int64)) "insert 1: rowid" (Some 1L) i1.last_insert_rowid;
    Alcotest.(check (option int64)) "insert 2: rowid" (Some 2L) i2.last_insert_rowid;
    Alcotest.(check int64) "update: rows changed" 2L u.rows_affected;
    Alcotest.(check (option int64)) "update: no rowid" None u.last_insert_rowid;
    Alcotest.(check (array string)) "select: columns" [| "id"; "name"; "score"; "plus" |] s.columns;
    Alcotest.(check (array (option string))) "select: declared types"
      [| Some "INTEGER"; Some "TEXT"; Some "REAL"; None |] s.decltypes;
    Alcotest.(check (list (list string))) "select: rows" [ [ "1"; "'ada'"; "3.0"; "4.0" ]; [ "2"; "'bob'"; "4.0"; "5.0" ] ] (values s);
    Alcotest.(check int64) "select: nothing changed" 0L s.rows_affected;
    Alcotest.(check (option int64)) "select: no rowid" None s.last_insert_rowid;
    Alcotest.(check int64) "Conn.last_insert_rowid after the batch" 2L (ok (Conn.last_insert_rowid env.conn));
    ignore (ok (Conn.batch_list env.conn [ (Printf.sprintf "INSERT INTO %s (name) VALUES ('cy')" t, `Positional []) ]));
    Alcotest.(check int64) "and after the next one" 3L (ok (Conn.last_insert_rowid env.conn))
  | l -> Alcotest.failf "expected 4 results, got %d" (List.length l)

let batch_atomic env =
  let t = table env "name TEXT NOT NULL UNIQUE" in
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES ('a')" t)));
  let e =
    err ~kind:`Constraint
      (Conn.batch_list env.conn
         [ (Printf.sprintf "INSERT INTO %s VALUES ('b')" t, `Positional []);
           (Printf.sprintf "INSERT INTO %s VALUES ('c')" t, `Positional []);
           (Printf.sprintf "INSERT INTO %s VALUES ('a')" t, `Positional []);
           (Printf.sprintf "INSERT INTO %s VALUES ('d')" t, `Positional []) ])
  in
  Alcotest.(check bool) ("names the statement: " ^ e.message) true (starts_with ~prefix:"statement 2: " e.message);
  Alcotest.(check string) "nothing of the batch stays" "1" (count env t);
  Alcotest.(check bool) "autocommit after" true (ok (Conn.is_autocommit env.conn));
  let e = err ~kind:`Misuse (Conn.batch_list env.conn [ ("BEGIN", `Positional []); ("SELECT 1", `Positional []) ]) in
  Alcotest.(check bool) "BEGIN refused" true (starts_with ~prefix:"statement 0: " e.message);
  let e = err (Conn.batch_list env.conn [ ("SELECT 1", `Positional []); ("SELEC 2", `Positional []) ]) in
  Alcotest.(check bool) ("a syntax error names its statement: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  Alcotest.(check (list int)) "empty batch" [] (List.map (fun _ -> 0) (ok (Conn.batch_list env.conn [])))

let batch_modes env =
  let t = table env "x" in
  let ins = (Printf.sprintf "INSERT INTO %s VALUES (1)" t, `Positional []) in
  ignore (ok (Conn.batch_list ~mode:`Write env.conn [ ins ]));
  ignore (ok (Conn.batch_list ~mode:`Deferred env.conn [ ins ]));
  let e = err ~kind:`Misuse (Conn.batch_list ~mode:`Read env.conn [ (Printf.sprintf "SELECT count(*) FROM %s" t, `Positional []); ins ]) in
  Alcotest.(check bool) ("read mode refuses a write: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  Alcotest.(check string) "nothing ran" "2" (count env t);
  match ok (Conn.batch_list ~mode:`Read env.conn [ (Printf.sprintf "SELECT count(*) FROM %s" t, `Positional []); ("WITH a(x) AS (VALUES (5)) SELECT x FROM a", `Positional []) ]) with
  | [ a; b ] ->
    Alcotest.(check (list (list string))) "read batch" [ [ "2" ] ] (values a);
    Alcotest.(check (list (list string))) "WITH" [ [ "5" ] ] (values b)
  | _ -> Alcotest.fail "two results"

let script_semantics env =
  let t = table env "x UNIQUE" in
  let e = err (Conn.script env.conn (Printf.sprintf "INSERT INTO %s VALUES (1); INSERT INTO %s VALUES (1); INSERT INTO %s VALUES (2)" t t t)) in
  ignore e;
  Alcotest.(check string) "stops at the first error, what ran stays" "1" (count env t);
  ignore (err (Conn.script env.conn (Printf.sprintf "BEGIN; INSERT INTO %s VALUES (3); INSERT INTO %s VALUES (1); COMMIT" t t)));
  Alcotest.(check bool) "its own transaction is not left open" true (ok (Conn.is_autocommit env.conn));
  Alcotest.(check string) "and was rolled back" "1" (count env t);
  let e = err ~kind:`Constraint (Conn.script env.conn (Printf.sprintf "INSERT INTO %s VALUES (4); -- ;\n INSERT INTO %s VALUES (1)" t t)) in
  Alcotest.(check bool) ("the error names the statement: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  let e = err (Conn.script env.conn (Printf.sprintf "INSERT INTO %s VALUES (5); SELEC 1; INSERT INTO %s VALUES (6)" t t)) in
  Alcotest.(check bool) ("a syntax error too: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  Alcotest.(check string) "what ran before a syntax error stays" "3" (count env t);
  (* a trigger's body holds ';' *)
  ok (Conn.script env.conn
        (Printf.sprintf "CREATE TRIGGER %s_tr AFTER INSERT ON %s WHEN new.x = 7 BEGIN INSERT INTO %s VALUES (8); INSERT INTO %s VALUES (9); END; INSERT INTO %s VALUES (7)" t t t t t));
  Alcotest.(check string) "a trigger, then a statement" "6" (count env t);
  (* an atomic script: all or nothing *)
  let e = err ~kind:`Constraint (Conn.batch env.conn (Printf.sprintf "INSERT INTO %s VALUES (10); INSERT INTO %s VALUES (1)" t t)) in
  Alcotest.(check bool) ("atomic: names the statement: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  Alcotest.(check string) "atomic: nothing stays" "6" (count env t);
  let e = err ~kind:`Misuse (Conn.batch env.conn "SELECT 1; BEGIN; SELECT 2") in
  Alcotest.(check bool) ("atomic: BEGIN refused: " ^ e.message) true (starts_with ~prefix:"statement 1: " e.message);
  ok (Conn.batch env.conn (Printf.sprintf "INSERT INTO %s VALUES (11); /* a comment left open ;" t));
  Alcotest.(check string) "atomic: a comment left open at the end" "7" (count env t);
  Alcotest.(check int64) "changes after a script" 1L (ok (Conn.changes env.conn));
  ok (Conn.script env.conn (Printf.sprintf "UPDATE %s SET x = x WHERE x > 5; SELECT 1" t));
  Alcotest.(check int64) "changes: the last INSERT, UPDATE or DELETE" 4L (ok (Conn.changes env.conn));
  ok (Conn.script env.conn "");
  ok (Conn.batch env.conn " -- nothing\n ; ")

(* ---------------------------------------------------------- transactions *)

let tx_basics env =
  let t = table env "id INTEGER PRIMARY KEY, v TEXT UNIQUE" in
  let tx = ok (Tx.begin_ ~behavior:`Immediate env.conn) in
  Alcotest.(check int64) "execute" 1L (ok (Tx.execute tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('a')" t)));
  let r = ok (Tx.run tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('b') RETURNING id, v" t)) in
  Alcotest.(check (list (list string))) "RETURNING rows" [ [ "2"; "'b'" ] ] (values r);
  ignore (ok (Tx.batch tx [ (Printf.sprintf "INSERT INTO %s (v) VALUES (?)" t, `Positional [ Value.text "c" ]) ]));
  ignore (ok (Tx.script tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('d')" t)));
  (* a failed statement does not end the transaction *)
  ignore (err ~kind:`Constraint (Tx.execute tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('a')" t)));
  Alcotest.(check bool) "still open" true (Tx.is_open tx);
  Alcotest.(check int) "query inside" 4 (List.length (ok (Tx.query tx (Printf.sprintf "SELECT * FROM %s" t))));
  ok (Tx.commit tx);
  Alcotest.(check string) "committed" "4" (count env t);
  List.iter
    (fun (what, r) -> ignore (err ~kind:`Transaction_closed r |> fun e -> Alcotest.(check bool) what true (contains e.message "committed")))
    [ ("execute after commit", Result.map ignore (Tx.execute tx "SELECT 1")); ("commit again", Tx.commit tx); ("rollback after commit", Tx.rollback tx) ];
  Tx.close tx;
  (* rollback, empty commit and rollback, close *)
  let tx = ok (Tx.begin_ env.conn) in
  ignore (ok (Tx.execute tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('x')" t)));
  ok (Tx.rollback tx);
  Alcotest.(check string) "rolled back" "4" (count env t);
  ignore (err ~kind:`Transaction_closed (Tx.query tx "SELECT 1"));
  ok (Tx.commit (ok (Tx.begin_ env.conn)));
  ok (Tx.rollback (ok (Tx.begin_ env.conn)));
  let tx = ok (Tx.begin_ env.conn) in
  ignore (ok (Tx.execute tx (Printf.sprintf "INSERT INTO %s (v) VALUES ('y')" t)));
  ignore (err ~kind:`Misuse (Tx.begin_ env.conn));
  Tx.close tx;
  Tx.close tx;
  Alcotest.(check string) "close rolls back" "4" (count env t);
  Alcotest.(check bool) "closed" false (Tx.is_open tx);
  ignore (err ~kind:`Transaction_closed (Tx.execute tx "SELECT 1"));
  Alcotest.(check bool) "connection back in autocommit" true (ok (Conn.is_autocommit env.conn))

let tx_ended_by_statement env =
  let t = table env "v TEXT UNIQUE" in
  let tx = ok (Tx.begin_ env.conn) in
  ignore (ok (Tx.execute tx (Printf.sprintf "INSERT INTO %s VALUES ('a')" t)));
  ignore (ok (Tx.execute tx "ROLLBACK"));
  Alcotest.(check bool) "a ROLLBACK statement ends it" false (Tx.is_open tx);
  let e = err ~kind:`Transaction_closed (Tx.execute tx "SELECT 1") in
  Alcotest.(check bool) "says why" true (contains e.message "a statement ended it");
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES ('a')" t)));
  let tx = ok (Tx.begin_ env.conn) in
  ignore (ok (Tx.execute tx (Printf.sprintf "INSERT INTO %s VALUES ('b')" t)));
  ignore (err ~kind:`Constraint (Tx.execute tx (Printf.sprintf "INSERT OR ROLLBACK INTO %s VALUES ('a')" t)));
  Alcotest.(check bool) "INSERT OR ROLLBACK that fires ends it" false (Tx.is_open tx);
  ignore (err ~kind:`Transaction_closed (Tx.commit tx));
  Alcotest.(check string) "b was rolled back" "1" (count env t)

let with_transaction_semantics env =
  let t = table env "x" in
  ok (Conn.with_transaction env.conn (fun c -> Result.map ignore (Conn.execute c (Printf.sprintf "INSERT INTO %s VALUES (1)" t))));
  ignore (Conn.with_transaction env.conn (fun c -> ignore (Conn.execute c (Printf.sprintf "INSERT INTO %s VALUES (2)" t)); Error (Error.make `Misuse "no")));
  (try ignore (Conn.with_transaction env.conn (fun c -> ignore (Conn.execute c (Printf.sprintf "INSERT INTO %s VALUES (3)" t)); failwith "boom"))
   with Failure _ -> ());
  Alcotest.(check string) "commit on Ok, rollback on Error and exception" "1" (count env t);
  Alcotest.(check bool) "autocommit" true (ok (Conn.is_autocommit env.conn));
  (* BEGIN and ROLLBACK behind comments, by hand *)
  ignore (ok (Conn.execute env.conn "/* a comment */ BEGIN"));
  Alcotest.(check bool) "BEGIN after a comment opens a transaction" false (ok (Conn.is_autocommit env.conn));
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (4)" t)));
  ignore (ok (Conn.execute env.conn "-- a comment\n ROLLBACK"));
  Alcotest.(check bool) "and ROLLBACK ends it" true (ok (Conn.is_autocommit env.conn));
  Alcotest.(check string) "rolled back" "1" (count env t)

(* --------------------------------------------------------------- results *)

(* A declared type with arguments: the Turso engine keeps its name only. *)
let decimal env = if env.mode = Synced then "DECIMAL" else "DECIMAL(3)"

let results env =
  let t = table env "id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, d DECIMAL(3), u" in
  let r = ok (Conn.run env.conn (Printf.sprintf "INSERT INTO %s (i, s) VALUES (7, 'x') RETURNING id, i * 2 AS twice" t)) in
  Alcotest.(check (list (list string))) "RETURNING" [ [ "1"; "14" ] ] (values r);
  Alcotest.(check (array string)) "RETURNING columns" [| "id"; "twice" |] r.columns;
  Alcotest.(check int64) "RETURNING rows changed" 1L r.rows_affected;
  Alcotest.(check (option int64)) "RETURNING rowid" (Some 1L) r.last_insert_rowid;
  let r = ok (Conn.run env.conn (Printf.sprintf "SELECT id, i, r, s, b, d, u, 1 + 1 FROM %s" t)) in
  Alcotest.(check (array (option string))) "declared types"
    [| Some "INTEGER"; Some "INTEGER"; Some "REAL"; Some "TEXT"; Some "BLOB"; Some (decimal env); None; None |] r.decltypes;
  Alcotest.(check (option int64)) "query: no rowid" None r.last_insert_rowid;
  let r = ok (Conn.run env.conn (Printf.sprintf "DELETE FROM %s WHERE id = 99" t)) in
  Alcotest.(check int64) "nothing deleted" 0L r.rows_affected;
  Alcotest.(check (option int64)) "nothing inserted" None r.last_insert_rowid;
  let rows = ok (Conn.query env.conn (Printf.sprintf "SELECT s, b FROM %s" t)) in
  Alcotest.(check (array (option string))) "Rows.decltypes too" [| Some "TEXT"; Some "BLOB" |] (Rows.decltypes rows);
  Rows.close rows;
  (* the same inside a transaction (on a replica: read on the primary) *)
  let tx = ok (Tx.begin_ env.conn) in
  let r = ok (Tx.run tx (Printf.sprintf "SELECT id, s, d, 1 + 1 FROM %s" t)) in
  Alcotest.(check (array (option string))) "declared types inside a transaction"
    [| Some "INTEGER"; Some "TEXT"; Some (decimal env); None |] r.decltypes;
  let rows = ok (Conn.query env.conn (Printf.sprintf "SELECT b FROM %s" t)) in
  Alcotest.(check (array (option string))) "Rows.decltypes inside a transaction" [| Some "BLOB" |] (Rows.decltypes rows);
  Rows.close rows;
  (match ok (Tx.batch tx [ (Printf.sprintf "SELECT r FROM %s" t, `Positional []) ]) with
   | [ r ] -> Alcotest.(check (array (option string))) "a batch inside a transaction" [| Some "REAL" |] r.decltypes
   | _ -> Alcotest.fail "one result");
  ok (Tx.commit tx)

(* ------------------------------------------------------------ parameters *)

let parameters env =
  let one sql params = match ok (Conn.run env.conn sql ~params) with { rows = [ r ]; _ } -> List.map Value.to_string (Array.to_list (Row.values r)) | _ -> [] in
  let check what expected sql params = Alcotest.(check (list string)) what expected (one sql params) in
  check "?" [ "1"; "'a'" ] "SELECT ?, ?" (`Positional Value.[ int 1; text "a" ]);
  check "?NNN with a hole" [ "'b'"; "'a'"; "'b'" ] "SELECT ?2, ?1, ?2" (`Positional Value.[ text "a"; text "b" ]);
  check "?NNN mixed with ?" [ "1"; "3"; "4" ] "SELECT ?, ?3, ?" (`Positional Value.[ int 1; int 2; int 3; int 4 ]);
  check ":name, several times" [ "5"; "5" ] "SELECT :a, :a" (`Named [ ("a", Value.int 5) ]);
  check "@name" [ "6" ] "SELECT @b" (`Named [ ("@b", Value.int 6) ]);
  check "$name" [ "7" ] "SELECT $c" (`Named [ ("$c", Value.int 7) ]);
  check "name given with its prefix" [ "8" ] "SELECT :d" (`Named [ (":d", Value.int 8) ]);
  check "mixed prefixes" [ "1"; "2"; "3" ] "SELECT :x, @y, $z" (`Named Value.[ ("x", int 1); ("@y", int 2); ("$z", int 3) ]);
  check "a bare name finds @name and $name" [ "4"; "5" ] "SELECT @p, $q" (`Named Value.[ ("p", int 4); ("q", int 5) ]);
  check "named mixed with ?NNN" [ "1"; "2" ] "SELECT :a, ?2" (`Named Value.[ ("a", int 1); ("?2", int 2) ]);
  check "?NNN first, then a name" [ "1"; "2"; "1" ] "SELECT ?1, :b, ?1" (`Named Value.[ ("?1", int 1); ("b", int 2) ]);
  check "not inside strings or comments" [ "3"; "'?2 :a'"; "4" ] "SELECT :a /* ?2 */, '?2 :a', ?2 -- ?9\n"
    (`Named Value.[ ("a", int 3); ("?2", int 4) ]);
  List.iter
    (fun (what, sql, params) ->
      let e = err ~kind:`Misuse (Conn.run env.conn sql ~params) in
      Alcotest.(check bool) (Printf.sprintf "%s: %s" what e.message) true (contains e.message "parameter"))
    [ ("too few", "SELECT ?, ?", `Positional Value.[ int 1 ]); ("too many", "SELECT ?", `Positional Value.[ int 1; int 2 ]) ];
  let s = ok (Conn.prepare env.conn "SELECT ?, ?5, :a, :a, '?9' -- ?12") in
  Alcotest.(check int) "parameter_count, as SQLite counts" 6 (ok (Stmt.parameter_count s));
  Stmt.close s;
  let t = table env "a, b" in
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (:a, ?2)" t) ~params:(`Named Value.[ ("?2", int 7); ("a", int 6) ])));
  Alcotest.(check string) "stored by an INSERT" "1" (count env t);
  (match ok (Conn.batch_list env.conn [ (Printf.sprintf "SELECT a, ?1 FROM %s WHERE a = :a" t, `Named Value.[ ("a", int 6); ("?1", text "x") ]) ]) with
   | [ r ] -> Alcotest.(check (list (list string))) "in a batch" [ [ "6"; "'x'" ] ] (values r)
   | _ -> Alcotest.fail "one result");
  List.iter
    (fun (what, sql, params, says) ->
      let e = err ~kind:`Misuse (Conn.run env.conn sql ~params) in
      Alcotest.(check bool) (Printf.sprintf "%s: %s" what e.message) true (contains e.message says))
    [ ("?NNN not given", "SELECT :a, ?2", `Named Value.[ ("a", int 1) ], "\"?2\" is not given");
      ("a name not given", "SELECT :a, :b", `Named Value.[ ("a", int 1) ], "\":b\" is not given");
      ("a hole in the numbering", "SELECT :a, ?3", `Named Value.[ ("a", int 1); ("?3", int 3) ], "positional parameter 2");
      ("a name the statement lacks", "SELECT :a", `Named Value.[ ("a", int 1); ("b", int 2) ], "no parameter named \"b\"") ]

(* ---------------------------------------------------------------- values *)

let all_bytes = String.init 256 Char.chr
let control = String.init 31 (fun i -> Char.chr (i + 1)) ^ "\127"
let unicode = "héllo wörld ✓ 中文 𝄞 👩‍💻 e\204\129"

let roundtrip_values =
  Value.
    [ ("int64 max", Integer Int64.max_int); ("int64 min", Integer Int64.min_int); ("zero", Integer 0L);
      ("largest double", Real Float.max_float); ("smallest subnormal", Real 4.9e-324);
      ("smallest normal", Real Float.min_float); ("negative zero", Real (-0.)); ("pi", Real Float.pi);
      ("control characters", Text control); ("any UTF-8", Text unicode); ("NUL inside text", Text "a\000b");
      ("empty text", Text ""); ("every byte", Blob all_bytes); ("empty blob", Blob ""); ("NULL", Null) ]

let values_roundtrip env =
  let t = table env "k TEXT, v" in
  List.iter
    (fun (what, v) ->
      (match ok (Conn.query_one env.conn "SELECT ?" ~params:(`Positional [ v ])) with
       | Some r -> Alcotest.(check bool) (what ^ ": SELECT ?") true (Value.equal v (Row.get r 0))
       | None -> Alcotest.fail "no row");
      ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (?, ?)" t) ~params:(`Positional [ Value.text what; v ]))))
    roundtrip_values;
  List.iter
    (fun (what, v) ->
      match ok (Conn.query_one env.conn (Printf.sprintf "SELECT v FROM %s WHERE k = ?" t) ~params:(`Positional [ Value.text what ])) with
      | Some r ->
        let got = Row.get r 0 in
        Alcotest.(check bool) (Printf.sprintf "%s: stored and read back (%s)" what (Value.to_string got)) true (Value.equal v got)
      | None -> Alcotest.fail ("not stored: " ^ what))
    roundtrip_values

let floats env =
  let e = err ~kind:`Misuse (Conn.execute env.conn "SELECT ?" ~params:(`Positional [ Value.Real Float.nan ])) in
  Alcotest.(check bool) "NaN: a clear error" true (contains e.message "NaN");
  let inf = Conn.query_one env.conn "SELECT ?" ~params:(`Positional [ Value.Real Float.infinity ]) in
  match env.mode with
  | Local | Synced -> (
    match ok inf with
    | Some r -> Alcotest.(check bool) "a local file stores infinity" true (Value.equal (Row.get r 0) (Value.Real Float.infinity))
    | None -> Alcotest.fail "no row")
  | Remote | Replica -> (
    let e = err ~kind:`Misuse inf in
    Alcotest.(check bool) ("infinity refused remotely: " ^ e.message) true (contains e.message "infinity");
    (* an infinity stored by SQL (9e999 overflows to it) *)
    let t = table env "v REAL" in
    ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (9e999), (-9e999)" t)));
    let read_on_server r =
      let e = err ~kind:`Decode r in
      Alcotest.(check bool) ("reading it from the server: a clear error: " ^ e.message) true
        (contains e.message "infinite REAL" && contains e.message "\"v\"")
    in
    let read = Conn.query_one env.conn (Printf.sprintf "SELECT v FROM %s ORDER BY v DESC" t) in
    (match env.mode with
     | Replica -> (
       (* outside a transaction a replica reads its file: exact *)
       match ok read with
       | Some r -> Alcotest.(check bool) "a replica reads it locally" true (Value.equal (Row.get r 0) (Value.Real Float.infinity))
       | None -> Alcotest.fail "no row")
     | _ -> read_on_server read);
    let tx = ok (Tx.begin_ env.conn) in
    read_on_server (Tx.run tx (Printf.sprintf "SELECT v FROM %s" t));
    Alcotest.(check bool) "the transaction goes on" true (Tx.is_open tx);
    ok (Tx.rollback tx);
    Alcotest.(check string) "as text it reads" "'Inf'"
      (match ok (Conn.query_one env.conn (Printf.sprintf "SELECT CAST(max(v) AS TEXT) FROM %s" t)) with
       | Some r -> Value.to_string (Row.get r 0)
       | None -> "?"))

(* ----------------------------------------------------------------- errors *)

let error_codes env =
  let t = table env "id INTEGER PRIMARY KEY, u UNIQUE, n NOT NULL, c CHECK (c > 0)" in
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (1, 1, 1, 1)" t)));
  let text_pk = table env "k TEXT PRIMARY KEY, u UNIQUE" in
  let no_rowid = t ^ "_without_rowid" in
  let create_no_rowid = Conn.execute env.conn (Printf.sprintf "CREATE TABLE %s (a, b, u UNIQUE, PRIMARY KEY (a, b)) WITHOUT ROWID" no_rowid) in
  (* the Turso engine (synced mode) does not have this yet: a clear error *)
  let has_no_rowid = env.mode <> Synced in
  if has_no_rowid then ignore (ok create_no_rowid)
  else begin
    let e = err ~kind:`Sql create_no_rowid in
    Alcotest.(check bool) ("not supported, said so: " ^ e.message) true (contains e.message "not supported by the Turso engine")
  end;
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES ('k', 1)" text_pk)));
  if has_no_rowid then ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (1, 2, 3)" no_rowid)));
  List.iter
    (fun (what, sql, name) ->
      let e = err ~kind:`Constraint (Conn.execute env.conn sql) in
      Alcotest.(check (option string)) what (Some name) (Option.map Error.code_name e.code);
      Alcotest.(check (option string)) (what ^ ": primary code") (Some "SQLITE_CONSTRAINT")
        (Option.map Error.code_name (Error.primary_code e));
      Alcotest.(check bool) (what ^ ": named in to_string") true (contains (Error.to_string e) name);
      (* the same through a batch *)
      let e = err ~kind:`Constraint (Conn.batch_list env.conn [ (sql, `Positional []) ]) in
      Alcotest.(check (option string)) (what ^ " in a batch") (Some name) (Option.map Error.code_name e.code))
    ([ ("UNIQUE", Printf.sprintf "INSERT INTO %s VALUES (2, 1, 1, 1)" t, "SQLITE_CONSTRAINT_UNIQUE");
      ("NOT NULL", Printf.sprintf "INSERT INTO %s VALUES (3, 2, NULL, 1)" t, "SQLITE_CONSTRAINT_NOTNULL");
      ("CHECK", Printf.sprintf "INSERT INTO %s VALUES (4, 3, 1, -1)" t, "SQLITE_CONSTRAINT_CHECK");
      ("INTEGER PRIMARY KEY", Printf.sprintf "INSERT INTO %s VALUES (1, 4, 1, 1)" t, "SQLITE_CONSTRAINT_PRIMARYKEY");
      ("TEXT PRIMARY KEY", Printf.sprintf "INSERT INTO %s VALUES ('k', 2)" text_pk, "SQLITE_CONSTRAINT_PRIMARYKEY");
      ("UNIQUE next to a PRIMARY KEY", Printf.sprintf "INSERT INTO %s VALUES ('j', 1)" text_pk, "SQLITE_CONSTRAINT_UNIQUE");
    ]
    @ (if not has_no_rowid then []
       else
         [ ("composite PRIMARY KEY, WITHOUT ROWID", Printf.sprintf "INSERT INTO %s VALUES (1, 2, 4)" no_rowid, "SQLITE_CONSTRAINT_PRIMARYKEY");
           ("UNIQUE in a WITHOUT ROWID table", Printf.sprintf "INSERT INTO %s VALUES (1, 3, 3)" no_rowid, "SQLITE_CONSTRAINT_UNIQUE") ]));
  (* inside a transaction too *)
  let tx = ok (Tx.begin_ env.conn) in
  let e = err ~kind:`Constraint (Tx.execute tx (Printf.sprintf "INSERT INTO %s VALUES ('k', 9)" text_pk)) in
  Alcotest.(check (option string)) "PRIMARY KEY inside a transaction" (Some "SQLITE_CONSTRAINT_PRIMARYKEY") (Option.map Error.code_name e.code);
  ok (Tx.rollback tx);
  let e = err (Conn.execute env.conn "SELECT * FROM no_such_table_anywhere") in
  Alcotest.(check (option string)) "no such table" (Some "SQLITE_ERROR") (Option.map Error.code_name e.code)

(* ------------------------------------------------------------------ run *)

(* A reply of any size arrives whole: a column name of 256 KiB (which alone
   filled the local chunk, so query_one said None), and a value of 1 MiB,
   read by query_one, query_list, a prepared statement and Rows. *)
let big_replies env =
  let name = String.make (256 * 1024) 'c' in
  let sql = Printf.sprintf "SELECT 1 AS \"%s\"" name in
  (match ok (Conn.query_one env.conn sql) with
   | Some r -> Alcotest.(check int) "query_one: the row, its long name" (String.length name) (String.length (Row.columns r).(0))
   | None -> Alcotest.fail "query_one: no row for a one-row result");
  Alcotest.(check int) "query_list" 1 (List.length (ok (Conn.query_list env.conn sql)));
  let st = ok (Conn.prepare env.conn sql) in
  Alcotest.(check bool) "Stmt.query_one" true (ok (Stmt.query_one st) <> None);
  Stmt.close st;
  let big = "SELECT zeroblob(1048576) AS b, 2 AS n UNION ALL SELECT zeroblob(1048576), 3" in
  let rows = ok (Conn.query_list env.conn big) in
  Alcotest.(check int) "two rows of 1 MiB each" 2 (List.length rows);
  (match ok (Conn.query_one env.conn big) with
   | Some r -> Alcotest.(check string) "query_one: the first of them" "2" (Value.to_string (Row.get r 1))
   | None -> Alcotest.fail "query_one: no row")

(* The one-request claims of the .mli, counted by Stats.requests: every
   call below is one HTTP request remotely and on a replica (its writes go
   to the primary), whatever its size; none on a local file. *)
let requests env =
  let t = table env "x INTEGER" in
  let ins = Printf.sprintf "INSERT INTO %s VALUES (?)" t in
  let stmt = ok (Conn.prepare env.conn ins) in
  let requests () = (ok (Db.stats env.db)).Stats.requests in
  let one what f =
    let before = requests () in
    f ();
    Alcotest.(check int64) (what ^ ": requests") (if env.mode = Local || env.mode = Synced then 0L else 1L) (Int64.sub (requests ()) before)
  in
  one "Stmt.execute_many, 1,000 rows" (fun () ->
      ignore (ok (Stmt.execute_many stmt (List.init 1000 (fun i -> [ Value.int i ])))));
  one "Conn.batch_list, 100 statements" (fun () ->
      ignore (ok (Conn.batch_list env.conn (List.init 100 (fun i -> (ins, `Positional [ Value.int i ]))))));
  one "Conn.script, 50 statements" (fun () ->
      ok (Conn.script env.conn (String.concat "; " (List.init 50 (fun i -> Printf.sprintf "INSERT INTO %s VALUES (%d)" t i)))));
  one "Conn.batch, 50 statements" (fun () ->
      ok (Conn.batch env.conn (String.concat "; " (List.init 50 (fun i -> Printf.sprintf "INSERT INTO %s VALUES (%d)" t i)))));
  one "Conn.execute" (fun () -> ignore (ok (Conn.execute env.conn ins ~params:(`Positional [ Value.int 1 ]))));
  one "Conn.run" (fun () -> ignore (ok (Conn.run env.conn ins ~params:(`Positional [ Value.int 1 ]))));
  let tx = ok (Tx.begin_ env.conn) in
  one "Tx.batch, 100 statements, in a transaction" (fun () ->
      ignore (ok (Tx.batch tx (List.init 100 (fun i -> (ins, `Positional [ Value.int i ]))))));
  one "Tx.commit" (fun () -> ok (Tx.commit tx));
  Stmt.close stmt;
  if env.mode = Local || env.mode = Synced then Alcotest.(check int64) "a local file sends none" 0L (requests ())
  else Alcotest.(check bool) "counted since open" true (requests () > 8L)

(* ---------------------------------------------------------------- vectors *)

type doc = { id : int; embedding : Turso.Vector.F32.t } [@@deriving turso]

(* Float arrays in and out of libSQL's vector types: the bytes are libSQL's
   own (compared with vector32()/vector64()), similarity search through a
   vector index, and wrong dimensions refused. The Turso engine (synced)
   has the vector functions but not libsql_vector_idx. *)
let vectors env =
  let one sql params = match ok (Conn.query_one env.conn sql ~params:(`Positional params)) with
    | Some r -> Row.get r 0
    | None -> Alcotest.fail ("no row: " ^ sql)
  in
  let same what expected v = Alcotest.(check string) what (Value.to_string expected) (Value.to_string v) in
  (* our bytes are libSQL's *)
  same "F32: the bytes of vector32()" (one "SELECT vector32('[1.5,-2,0.25]')" []) (Vector.F32.to_value [| 1.5; -2.; 0.25 |]);
  same "F64: the bytes of vector64()" (one "SELECT vector64('[1.5,-2,0.1]')" []) (Vector.F64.to_value [| 1.5; -2.; 0.1 |]);
  same "libSQL reads ours" (Value.text "[1.5,-2,0.25]") (one "SELECT vector_extract(?)" [ Vector.F32.to_value [| 1.5; -2.; 0.25 |] ]);
  let f64 = [| 0.1; 1e300; -4.9e-324 |] in
  (match Vector.of_value (one "SELECT ?" [ Vector.F64.to_value f64 ]) with
   | Ok a -> Alcotest.(check (array (float 0.))) "F64: exact round trip" f64 a
   | Error e -> Alcotest.fail e);
  (match Vector.of_value (one "SELECT vector32('[1,2,3]')" []) with
   | Ok a -> Alcotest.(check (array (float 0.))) "vector32() read as floats" [| 1.; 2.; 3. |] a
   | Error e -> Alcotest.fail e);
  Alcotest.(check (result int string)) "dimensions" (Ok 3) (Vector.dimensions (one "SELECT vector64('[1,2,3]')" []));
  (* a record with a vector field, through [@@deriving turso] *)
  let t = table env "id INTEGER PRIMARY KEY, embedding F32_BLOB(3)" in
  let docs = [ { id = 1; embedding = [| 1.; 0.; 0. |] }; { id = 2; embedding = [| 0.; 1.; 0. |] }; { id = 3; embedding = [| 0.75; 0.25; 0. |] } ] in
  let ins = ok (Conn.prepare env.conn (Printf.sprintf "INSERT INTO %s (id, embedding) VALUES (?, ?)" t)) in
  ignore (ok (Stmt.execute_many ins (List.map doc_to_values docs)));
  Stmt.close ins;
  let back = List.map (fun r -> ok (doc_of_row r)) (ok (Conn.query_list env.conn (Printf.sprintf "SELECT id, embedding FROM %s ORDER BY id" t))) in
  (* exact: these floats are all single-precision numbers *)
  Alcotest.(check bool) "records back as written" true (back = docs);
  let near = Vector.F32.to_value [| 1.; 0.; 0. |] in
  let ids sql = List.map (fun r -> Value.to_string (Row.get r 0)) (ok (Conn.query_list env.conn sql ~params:(`Positional [ near ]))) in
  Alcotest.(check (list string)) "nearest by cosine distance" [ "1"; "3" ]
    (ids (Printf.sprintf "SELECT id FROM %s ORDER BY vector_distance_cos(embedding, ?) LIMIT 2" t));
  let e = err ~kind:`Sql (Conn.query_one env.conn (Printf.sprintf "SELECT vector_distance_cos(embedding, ?) FROM %s" t)
                            ~params:(`Positional [ Vector.F32.to_value [| 1.; 0. |] ])) in
  Alcotest.(check bool) ("a distance across dimensions: " ^ e.message) true (contains e.message "length" || contains e.message "dimension");
  if env.mode = Synced then begin
    let e = err ~kind:`Sql (Conn.execute env.conn (Printf.sprintf "CREATE INDEX %s_idx ON %s (libsql_vector_idx(embedding))" t t)) in
    Alcotest.(check bool) ("no libsql_vector_idx on the Turso engine, said so: " ^ e.message) true (contains e.message "libsql_vector_idx")
  end
  else begin
    (* the index: on a replica, the DDL and the writes go to the primary,
       and the search reads the replica's copy after its sync *)
    ignore (ok (Conn.execute env.conn (Printf.sprintf "CREATE INDEX %s_idx ON %s (libsql_vector_idx(embedding))" t t)));
    ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s (id, embedding) VALUES (4, ?)" t)
                  ~params:(`Positional [ Vector.F32.to_value [| 0.5; 0.; 0.125 |] ])));
    Alcotest.(check (list string)) "vector_top_k through the index" [ "1"; "3"; "4" ]
      (ids (Printf.sprintf "SELECT id FROM vector_top_k('%s_idx', ?, 3) ORDER BY id" t));
    let e = err ~kind:`Sql (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s (id, embedding) VALUES (5, ?)" t)
                              ~params:(`Positional [ Vector.F32.to_value [| 1.; 0. |] ])) in
    Alcotest.(check bool) ("the index refuses a wrong dimension: " ^ e.message) true (contains e.message "dimensions are different: 2 != 3")
  end;
  (* libSQL's compressed types are not guessed at *)
  (* (vector16('[1.5,-2]') in libSQL; the Turso engine has no vector16) *)
  match Vector.of_value (Value.blob "\x00\x3e\x00\xc0\x05") with
  | Ok _ -> Alcotest.fail "an F16 vector read as floats"
  | Error msg -> Alcotest.(check bool) ("F16 named: " ^ msg) true (contains msg "F16" && contains msg "vector32")

(* ---------------------------------------------------------------- tracing *)

(* Each mode's statements and syncs reach a Logs reporter, named by mode;
   a token never does. *)
let tracing env =
  with_captured @@ fun messages ->
  Logs.Src.set_level Trace.src (Some Logs.Debug);
  let t = table env "x INTEGER" in
  ignore (ok (Conn.execute env.conn (Printf.sprintf "INSERT INTO %s VALUES (1), (2)" t)));
  ignore (ok (Conn.query_list env.conn (Printf.sprintf "SELECT x FROM %s" t)));
  let name = match env.mode with Local -> "local" | Remote -> "remote" | Replica -> "replica" | Synced -> "synced" in
  (match env.mode with
   | Replica -> ignore (ok (Db.sync env.db))
   | Synced -> ignore (ok (Db.push env.db))
   | Local | Remote -> ());
  let msgs = messages () in
  let debug = List.filter_map (fun (l, m) -> if l = Logs.Debug then Some m else None) msgs in
  let info = List.filter_map (fun (l, m) -> if l = Logs.Info then Some m else None) msgs in
  let insert = Printf.sprintf "%s " name and sql = Printf.sprintf "INSERT INTO %s VALUES (1), (2) -> 2 rows changed" t in
  Alcotest.(check bool) ("the insert, by mode: " ^ String.concat " | " debug) true
    (List.exists (fun m -> starts_with ~prefix:insert m && contains m sql) debug);
  Alcotest.(check bool) "the query" true (List.exists (fun m -> contains m (Printf.sprintf "SELECT x FROM %s -> streamed" t)) debug);
  (match env.mode with
   | Replica -> Alcotest.(check bool) ("the sync: " ^ String.concat " | " info) true (List.exists (fun m -> starts_with ~prefix:"replica sync in" m) info)
   | Synced -> Alcotest.(check bool) ("the push: " ^ String.concat " | " info) true (List.exists (fun m -> starts_with ~prefix:"synced push in" m && contains m "sent") info)
   | Local | Remote -> ());
  List.iter (fun (_, m) -> Alcotest.(check bool) "no token" false (contains m token)) msgs

(* ------------------------------------------------------------- migrations *)

(* Migrate.run on every mode: applied once, in order, recorded; a failing
   one rolled back whole; changed, missing and out-of-order ones refused. *)
let migrations env =
  ignore (ok (Conn.execute env.conn "DROP TABLE IF EXISTS turso_migrations"));
  incr counter;
  let t = Printf.sprintf "%s_m%d" env.table !counter in
  let m1 = Migration.make ~version:1 ~name:"create" (Printf.sprintf "CREATE TABLE %s (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nCREATE INDEX %s_name ON %s (name);" t t t)
  and m2 = Migration.make ~version:2 ~name:"seed" (Printf.sprintf "INSERT INTO %s (name) VALUES ('ada');\nINSERT INTO %s (name) VALUES ('bob')" t t) in
  let labels l = List.map Migration.label l in
  Alcotest.(check (list string)) "both applied" [ "0001_create"; "0002_seed" ] (labels (ok (Migrate.run env.conn [ m2; m1 ])));
  Alcotest.(check string) "their work is there" "2" (count env t);
  Alcotest.(check (list string)) "a second run: nothing" [] (labels (ok (Migrate.run env.conn [ m1; m2 ])));
  let st = ok (Migrate.status env.conn [ m1; m2 ]) in
  Alcotest.(check (option int)) "status: at 2" (Some 2) st.current;
  Alcotest.(check int) "status: 2 applied, recorded" 2 (List.length st.applied);
  (* a failing migration: its first statement rolled back too *)
  let m3 = Migration.make ~version:3 ~name:"broken" (Printf.sprintf "CREATE TABLE %s_extra (x INTEGER);\nINSERT INTO %s_nowhere VALUES (1)" t t) in
  let e = err (Migrate.run env.conn [ m1; m2; m3 ]) in
  Alcotest.(check bool) ("names the migration: " ^ e.message) true (contains e.message "migration 0003_broken failed");
  Alcotest.(check bool) ("names the statement: " ^ Option.value e.sql ~default:"(none)") true
    (contains (Option.value e.sql ~default:"") (Printf.sprintf "INSERT INTO %s_nowhere" t));
  Alcotest.(check (option int)) "still at 2" (Some 2) (ok (Migrate.status env.conn [ m1; m2; m3 ])).current;
  Alcotest.(check bool) "its first statement rolled back" true
    (ok (Conn.query_one env.conn "SELECT 1 FROM sqlite_schema WHERE name = ?" ~params:(`Positional [ Value.text (t ^ "_extra") ])) = None);
  (* refused before anything runs *)
  let refused what l sub =
    let e = err ~kind:`Config (Migrate.run env.conn l) in
    Alcotest.(check bool) (what ^ ": " ^ e.message) true (contains e.message sub)
  in
  refused "changed" [ m1; Migration.make ~version:2 ~name:"seed" "SELECT 1" ] "migration 0002_seed was changed after it was applied";
  refused "missing" [ m2 ] "0001_create was applied to this database but is not in the list";
  refused "below the current one" [ m1; m2; Migration.make ~version:0 ~name:"early" "SELECT 1" ] "give it a number above 2";
  refused "twice" [ m1; m2; m2 ] "two migrations with version 2";
  Alcotest.(check string) "none of that ran" "2" (count env t);
  let m3 = Migration.make ~version:3 ~name:"add_score" (Printf.sprintf "ALTER TABLE %s ADD COLUMN score REAL" t) in
  Alcotest.(check (list string)) "the next one" [ "0003_add_score" ] (labels (ok (Migrate.run env.conn [ m1; m2; m3 ])));
  ignore (ok (Conn.execute env.conn (Printf.sprintf "UPDATE %s SET score = 1.5" t)));
  ignore (ok (Conn.execute env.conn "DROP TABLE turso_migrations"))

(* --------------------------------------------------------- checked queries *)

(* let%query values (compiled against migrations/) run by Query on every
   mode, inside and outside a transaction. *)
[%%migrations "migrations"]

let%query q_add = "INSERT INTO q_items (name, qty, price) VALUES (:name, :qty, :price)"
let%query q_get = "SELECT id, name, qty, price FROM q_items WHERE name = :name"
let%query q_names = "SELECT name FROM q_items WHERE price >= :min ORDER BY id"
let%query q_count : int = "SELECT count(*) FROM q_items"

let checked_queries env =
  List.iter (fun sql -> ignore (ok (Conn.execute env.conn sql)))
    [ "DROP TABLE IF EXISTS q_items"; "DROP TABLE IF EXISTS turso_migrations" ];
  ignore (ok (Migrate.run env.conn (ok (Migration.of_dir "migrations"))));
  Alcotest.(check int64) "exec: one row" 1L (ok (Query.exec env.conn (q_add ~name:"ada" ~qty:(Some 2) ~price:1.5)));
  ignore (ok (Query.exec env.conn (q_add ~name:"bob" ~qty:None ~price:0.25)));
  let r = ok (Query.one env.conn (q_get ~name:"ada")) in
  Alcotest.(check (triple string (option int) (float 0.))) "one: the record" ("ada", Some 2, 1.5) (r.name, r.qty, r.price);
  Alcotest.(check (option (option int))) "opt: NULL" (Some None)
    (Option.map (fun (r : q_get) -> r.qty) (ok (Query.opt env.conn (q_get ~name:"bob"))));
  Alcotest.(check bool) "opt: no row" true (ok (Query.opt env.conn (q_get ~name:"cy")) = None);
  Alcotest.(check (list string)) "list" [ "ada"; "bob" ] (ok (Query.list env.conn (q_names ~min:0.)));
  Alcotest.(check int) "fold" 1 (ok (Query.fold env.conn (q_names ~min:1.) ~init:0 ~f:(fun n _ -> n + 1)));
  ok (Conn.with_transaction env.conn (fun c ->
      let open Syntax in
      let* _ = Query.exec c (q_add ~name:"cy" ~qty:(Some 1) ~price:2.) in
      let+ n = Query.one c q_count in
      Alcotest.(check int) "inside the transaction" 3 n));
  Alcotest.(check int) "after the commit" 3 (ok (Query.one env.conn q_count));
  List.iter (fun sql -> ignore (ok (Conn.execute env.conn sql))) [ "DROP TABLE q_items"; "DROP TABLE turso_migrations" ]

let cases =
  [ ("batch: per-statement results", batch_results); ("batch: all or nothing, names the statement", batch_atomic);
    ("batch: write, read and deferred modes", batch_modes); ("script: in order, stops at the first error", script_semantics);
    ("transaction value", tx_basics); ("transaction ended by a statement", tx_ended_by_statement);
    ("with_transaction", with_transaction_semantics); ("results: columns, declared types, rowid, RETURNING", results);
    ("parameters: ?, ?NNN, :name, @name, $name", parameters); ("values round-trip exactly", values_roundtrip);
    ("floats: NaN and infinity", floats); ("error codes by name", error_codes);
    ("replies of any size arrive whole", big_replies); ("one request per call (Stats.requests)", requests);
    ("vectors: float arrays, similarity search, dimensions", vectors); ("tracing: statements and syncs, by mode", tracing);
    ("migrations: in order, once, whole or not at all", migrations);
    ("checked queries (let%query)", checked_queries) ]


let local_env f () =
  let path = Filename.temp_file "turso-modes" ".db" in
  let db = ok (Db.open_local path) in
  let conn = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close conn; Db.close db; Sys.remove path) (fun () -> f { mode = Local; db; conn; table = "t_local" })

let remote_env url f () =
  let db = ok (Db.open_remote ~url ~auth_token:token ()) in
  let conn = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close conn; Db.close db) (fun () -> f { mode = Remote; db; conn; table = "t_remote" })

let replica_env url f () =
  let path = Filename.temp_file "turso-modes-replica" ".db" in
  Sys.remove path;
  let db = ok (Db.open_replica ~path ~url ~auth_token:token ()) in
  let conn = ok (Conn.connect db) in
  Fun.protect
    ~finally:(fun () ->
      Conn.close conn;
      Db.close db;
      Sqld.cleanup_replica path)
    (fun () -> f { mode = Replica; db; conn; table = "t_replica" })

(* A synced database (Turso engine) against the suite's tursodb, each case
   a fresh client file. *)
let tursodb = lazy (Option.map Tursodb.start Tursodb.bin)

let synced_env server f () =
  let dir = Tursodb.fresh_dir () in
  let db = ok (Db.open_synced ~path:(Filename.concat dir "client.db") ~url:(Tursodb.url server) ~auth_token:token ()) in
  let conn = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close conn; Db.close db) (fun () -> f { mode = Synced; db; conn; table = "t_synced" })

let () =
  let group name env = (name, List.map (fun (n, f) -> Alcotest.test_case n `Quick (env f)) cases) in
  let url = Lazy.force Sqld.server in
  let synced = Lazy.force tursodb in
  let groups =
    (group "local" local_env :: (match url with None -> [] | Some u -> [ group "remote" (remote_env u); group "replica" (replica_env u) ]))
    @ match synced with None -> [] | Some s -> [ group "synced" (synced_env s) ]
  in
  (match url with
   | None -> Sqld.no_server (Printf.sprintf "remote and replica: %d cases each not run" (List.length cases))
   | Some _ -> ());
  if synced = None then Tursodb.no_server (Printf.sprintf "synced: %d cases not run" (List.length cases));
  Printf.printf "cases per mode: %s\n%!"
    (String.concat ", " (List.map (fun (n, l) -> Printf.sprintf "%s %d" n (List.length l)) groups));
  Alcotest.run ~argv:[| Sys.argv.(0) |] "turso modes" groups
