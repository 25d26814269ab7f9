(* Encryption at rest, proven on the bytes: text written through an
   encrypted local file, and through an encrypted replica, is found in no
   file on disk (main file, WAL, shared memory, the replica's metadata);
   the same steps without a key find it, so the scan can see. Wrong and
   missing keys are errors that say so; keys never reach a message. *)

open Turso
open Check

let key = "k3y-0f-the-test-9a4e"
let marker = "PLAINTEXT-MARKER-7f3b1c"

let fresh_dir () =
  let d = Filename.temp_file "turso-enc" "" in
  Sys.remove d;
  Unix.mkdir d 0o700;
  d

let read_all path =
  let ic = open_in_bin path in
  Fun.protect ~finally:(fun () -> close_in ic) (fun () -> really_input_string ic (in_channel_length ic))

(* Every file in [dir] whose bytes hold [marker]. *)
let files_with_marker dir =
  List.filter
    (fun f -> try contains (read_all (Filename.concat dir f)) marker with Sys_error _ -> false)
    (List.sort compare (Array.to_list (Sys.readdir dir)))

(* Writes the marker (and enough rows to fill pages) through [conn]. *)
let write_marker conn =
  ignore (ok (Conn.execute conn "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"));
  for i = 1 to 50 do
    ignore (ok (Conn.execute conn "INSERT INTO notes (body) VALUES (?)" ~params:(`Positional [ Value.text (Printf.sprintf "%s %d" marker i) ])))
  done

let read_back conn =
  match ok (Conn.query_one conn "SELECT count(*) FROM notes WHERE body LIKE ?" ~params:(`Positional [ Value.text (marker ^ "%") ])) with
  | Some r -> Value.to_string (Row.get r 0)
  | None -> "?"

let no_key_in (e : Error.t) = Alcotest.(check bool) ("no key in: " ^ e.message) false (contains (Error.to_string e) key)

let test_local () =
  (* without a key: the scan finds the text (in the WAL, the file, or both) *)
  let plain = fresh_dir () in
  let db = ok (Db.open_local (Filename.concat plain "plain.db")) in
  let c = ok (Conn.connect db) in
  write_marker c;
  Alcotest.(check bool) "without a key the text is on disk" true (files_with_marker plain <> []);
  Conn.close c;
  Db.close db;
  (* with a key: in no file, while open and after close *)
  let dir = fresh_dir () in
  let path = Filename.concat dir "secret.db" in
  let db = ok (Db.open_local ~encryption_key:key path) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "PRAGMA journal_mode=WAL"));
  write_marker c;
  Alcotest.(check (list string)) "open: no file holds the text" [] (files_with_marker dir);
  Alcotest.(check string) "read back through the key" "50" (read_back c);
  Conn.close c;
  Db.close db;
  Alcotest.(check (list string)) "closed: no file holds the text" [] (files_with_marker dir);
  Alcotest.(check bool) "not a plain SQLite header" false (String.sub (read_all path) 0 15 = "SQLite format 3");
  (* reopened with the key *)
  let db = ok (Db.open_local ~encryption_key:key path) in
  let c = ok (Conn.connect db) in
  Alcotest.(check string) "reopened" "50" (read_back c);
  Conn.close c;
  Db.close db;
  (* wrong key, no key, a key for a plain file, empty key, :memory: *)
  let e = err ~kind:`Auth (Db.open_local ~encryption_key:"not-the-key" path) in
  Alcotest.(check bool) ("wrong key, said: " ^ e.message) true (contains e.message "wrong encryption key");
  no_key_in e;
  let e = err ~kind:`Config (Db.open_local path) in
  Alcotest.(check bool) ("no key, said: " ^ e.message) true (contains e.message "is encrypted");
  let e = err ~kind:`Config (Db.open_local ~encryption_key:key (Filename.concat plain "plain.db")) in
  Alcotest.(check bool) ("a plain file, said: " ^ e.message) true (contains e.message "is not encrypted");
  no_key_in e;
  ignore (err ~kind:`Config (Db.open_local ~encryption_key:"" path));
  ignore (err ~kind:`Config (Db.open_local ~encryption_key:key ":memory:"));
  ignore (err ~kind:`Config (Db.open_local ~encryption_key:key "file::memory:?cache=shared"));
  ignore (err ~kind:`Config (Db.open_local ~encryption_key:key "file:mem1?mode=memory"));
  (* through file: URIs, the same answers *)
  let e = err ~kind:`Config (Db.open_local ~encryption_key:key ("file:" ^ Filename.concat plain "plain.db")) in
  Alcotest.(check bool) ("a plain file by URI: " ^ e.message) true (contains e.message "is not encrypted");
  let e = err ~kind:`Config (Db.open_local ("file://" ^ path ^ "?mode=rw")) in
  Alcotest.(check bool) ("an encrypted file by URI, no key: " ^ e.message) true (contains e.message "is encrypted");
  (* the data is whole after all that *)
  let db = ok (Db.open_local ~encryption_key:key path) in
  let c = ok (Conn.connect db) in
  (match ok (Conn.query_one c "PRAGMA integrity_check") with
   | Some r -> Alcotest.(check string) "integrity_check" "'ok'" (Value.to_string (Row.get r 0))
   | None -> Alcotest.fail "integrity_check: no row");
  Alcotest.(check bool) "stats: no key" false (contains (Format.asprintf "%a" Stats.pp (ok (Db.stats db))) key);
  Conn.close c;
  Db.close db

let test_config () =
  let c = Config.local ~encryption_key:key "a.db" in
  let s = Config.to_string c in
  Alcotest.(check bool) ("said, not shown: " ^ s) true (contains s "encrypted, key set" && not (contains s key));
  let r = Config.Replica { path = "r.db"; url = "http://127.0.0.1:9"; auth_token = "t0k"; encryption_key = Some key } in
  Alcotest.(check bool) "replica: not shown" false (contains (Config.to_string r) key)

let test_replica url () =
  let replica_marker_run ~encryption_key dir =
    let path = Filename.concat dir "replica.db" in
    let db = ok (Db.open_replica ?encryption_key ~path ~url ~auth_token:"" ()) in
    let c = ok (Conn.connect db) in
    let table = Printf.sprintf "enc_%d_%d" (Unix.getpid ()) (Random.bits ()) in
    ignore (ok (Conn.execute c (Printf.sprintf "CREATE TABLE %s (body TEXT)" table)));
    for i = 1 to 50 do
      ignore (ok (Conn.execute c (Printf.sprintf "INSERT INTO %s VALUES (?)" table) ~params:(`Positional [ Value.text (Printf.sprintf "%s %d" marker i) ])))
    done;
    ignore (ok (Db.sync db));
    if encryption_key <> None then
      Alcotest.(check (list string)) "open: no file of the replica holds the text" [] (files_with_marker dir);
    (* read from the replica's own file (reads are local) *)
    (match ok (Conn.query_one c (Printf.sprintf "SELECT count(*) FROM %s" table)) with
     | Some r -> Alcotest.(check string) "the replica has the rows" "50" (Value.to_string (Row.get r 0))
     | None -> Alcotest.fail "no count");
    Conn.close c;
    Db.close db;
    path
  in
  let plain = fresh_dir () in
  ignore (replica_marker_run ~encryption_key:None plain);
  Alcotest.(check bool) "a plain replica: the text is on disk" true (files_with_marker plain <> []);
  let dir = fresh_dir () in
  let path = replica_marker_run ~encryption_key:(Some key) dir in
  Printf.printf "replica files: %s\n" (String.concat ", " (Array.to_list (Sys.readdir dir)));
  Alcotest.(check (list string)) "an encrypted replica: no file holds the text" [] (files_with_marker dir);
  (* reopened: with the key it serves its rows offline-fast; wrong or no key: said *)
  let e = err ~kind:`Auth (Db.open_replica ~encryption_key:"not-the-key" ~path ~url ~auth_token:"" ()) in
  Alcotest.(check bool) ("wrong key: " ^ e.message) true (contains e.message "wrong encryption key");
  no_key_in e;
  let e = err ~kind:`Config (Db.open_replica ~path ~url ~auth_token:"" ()) in
  Alcotest.(check bool) ("no key: " ^ e.message) true (contains e.message "is encrypted");
  let db = ok (Db.open_replica ~encryption_key:key ~path ~url ~auth_token:"" ()) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.query_list c "SELECT name FROM sqlite_schema"));
  Conn.close c;
  Db.close db;
  Sqld.cleanup_replica path

let () =
  Random.self_init ();
  let tc n f = Alcotest.test_case n `Quick f in
  let url = Lazy.force Sqld.server in
  if url = None then Sqld.no_server "encrypted replicas: 1 case not run";
  Alcotest.run "turso encryption"
    (("local", [ tc "no plaintext on disk; wrong and missing keys" test_local; tc "config never shows the key" test_config ])
     :: (match url with None -> [] | Some u -> [ ("sqld", [ tc "an encrypted replica: no plaintext on disk" (test_replica u) ]) ]))
