(* A program that links turso and sqlite3-ocaml (the system SQLite) must
   keep the two engines apart: turso runs on libSQL's own SQLite, whose C
   symbols are renamed in the stub archive. If they were not, one library's
   calls would silently run on the other's engine. *)

let source_id_turso () =
  let open Turso in
  let db = ok_exn (Db.open_local ":memory:") in
  let c = ok_exn (Conn.connect db) in
  let r = ok_exn (Conn.query_one c "SELECT sqlite_source_id()") in
  Conn.close c;
  Db.close db;
  match r with Some row -> (match Row.get row 0 with Value.Text s -> s | _ -> "?") | None -> "?"

let source_id_sqlite3 () =
  let db = Sqlite3.db_open ":memory:" in
  let s = Sqlite3.prepare db "SELECT sqlite_source_id()" in
  ignore (Sqlite3.step s);
  let v = match Sqlite3.column s 0 with Sqlite3.Data.TEXT s -> s | _ -> "?" in
  ignore (Sqlite3.finalize s);
  ignore (Sqlite3.db_close db);
  v

let test_engines_apart () =
  let t = source_id_turso () and s = source_id_sqlite3 () in
  Alcotest.(check bool) (Printf.sprintf "turso (%s) and sqlite3-ocaml (%s) run different engines" t s) false (String.equal t s)

let test_same_file () =
  let path = Filename.temp_file "turso-link" ".db" in
  let open Turso in
  let db = ok_exn (Db.open_local path) in
  let c = ok_exn (Conn.connect db) in
  ignore (ok_exn (Conn.execute c "CREATE TABLE t (x TEXT)"));
  ignore (ok_exn (Conn.execute c "INSERT INTO t VALUES ('from turso')"));
  let sdb = Sqlite3.db_open path in
  let got = ref "" in
  ignore (Sqlite3.exec_not_null_no_headers sdb "SELECT x FROM t" ~cb:(fun row -> got := row.(0)));
  ignore (Sqlite3.db_close sdb);
  Conn.close c;
  Db.close db;
  Sys.remove path;
  Alcotest.(check string) "a file written by turso reads in sqlite3-ocaml" "from turso" !got

let () =
  Alcotest.run "turso with sqlite3-ocaml"
    [ ("linking", [ Alcotest.test_case "two engines, no clash" `Quick test_engines_apart;
                    Alcotest.test_case "one file, both libraries" `Quick test_same_file ]) ]
