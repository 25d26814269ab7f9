open Turso
let now = Unix.gettimeofday
let text20 i =
  let b = Bytes.make 20 '0' in
  let rec go i pos = if i > 0 && pos >= 0 then (Bytes.unsafe_set b pos (Char.unsafe_chr (48 + (i mod 10))); go (i / 10) (pos - 1)) in
  go i 19;
  Bytes.unsafe_to_string b
let () =
  (try Sys.remove "/tmp/micro.db"; Sys.remove "/tmp/micro.db-wal" with _ -> ());
  let db = ok_exn (Db.open_local "/tmp/micro.db") in
  let c = ok_exn (Conn.connect db) in
  ignore (ok_exn (Conn.query_list c "PRAGMA journal_mode=WAL"));
  ignore (ok_exn (Conn.execute c "PRAGMA synchronous=NORMAL"));
  if Array.length Sys.argv > 2 then begin
    ignore (ok_exn (Conn.execute c "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)"));
    let ins = ok_exn (Conn.prepare c "INSERT INTO kv VALUES (?, ?)") in
    ignore (ok_exn (Stmt.execute_many ins (List.init 100000 (fun i -> Value.[int (i+1); Text (text20 i)]))));
    if Sys.argv.(2) = "gc" then Gc.compact ();
    if Sys.argv.(2) = "lookups" then begin
      let sel = ok_exn (Conn.prepare c "SELECT v FROM kv WHERE id = ?") in
      for i = 0 to 99999 do ignore (ok_exn (Stmt.query_one sel ~params:(`Positional [ Value.int ((i * 7919) mod 100000 + 1) ]))) done
    end
  end;
  ignore (ok_exn (Conn.execute c "CREATE TABLE ins (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)"));
  let ins = ok_exn (Conn.prepare c "INSERT INTO ins VALUES (?, ?, ?)") in
  let n = int_of_string Sys.argv.(1) in
  let t = now () in
  ok_exn (Conn.with_transaction c (fun _ ->
    for i = 0 to n - 1 do
      ignore (ok_exn (Stmt.execute ins ~params:(`Positional Value.[ int i; int (i * 3); Text (text20 i) ])))
    done; Ok ()));
  Printf.printf "inserts: %.0f /s\n" (float n /. (now () -. t))
