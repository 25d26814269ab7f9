open Turso
let () =
  let db = ok_exn (Db.open_local ":memory:") in
  let c = ok_exn (Conn.connect db) in
  ignore (ok_exn (Conn.execute c "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, r REAL, b BLOB)"));
  let n = ok_exn (Conn.execute c "INSERT INTO t (s, r, b) VALUES (?, ?, ?)" ~params:(`Positional [Value.Text "héllo"; Value.Real 1.5; Value.Blob "\000\001"])) in
  Printf.printf "changes %Ld rowid %Ld\n" n (ok_exn (Conn.last_insert_rowid c));
  let rows = ok_exn (Conn.query_list c "SELECT * FROM t") in
  List.iter (fun r -> Format.printf "%a@." Row.pp r) rows;
  (match Conn.execute c "SELEC 1" with Error e -> print_endline (Error.to_string e) | Ok _ -> ());
  (match Conn.execute c "INSERT INTO t (id) VALUES (1)" with Error e -> print_endline (Error.to_string e) | Ok _ -> ());
  (match Private.test_panic () with Error e -> print_endline (Error.to_string e) | Ok _ -> ());
  Conn.close c; Conn.close c;
  (match Conn.execute c "SELECT 1" with Error e -> print_endline (Error.to_string e) | Ok _ -> ());
  Db.close db
