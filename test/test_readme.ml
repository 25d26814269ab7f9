(* Runs the README's examples (test/readme_blocks.ml is extracted from
   README.md at build time; its first block already ran at start-up). *)

open Turso

let ok = ok_exn

let test_examples () =
  let db = ok (Db.open_local "readme.db") in
  let conn = ok (Conn.connect db) in
  (match ok (Readme_blocks.find_user conn ~name:"ada") with
   | Some r -> Alcotest.(check (option string)) "score" (Some "9.5") (Option.map Value.to_string (Row.find r "score"))
   | None -> Alcotest.fail "ada not found");
  Alcotest.(check int64) "insert_scores" 2L (ok (Readme_blocks.insert_scores conn [ ("bob", 1.); ("cy", 2.5) ]));
  Alcotest.(check (float 1e-9)) "total_score" 13. (ok (Readme_blocks.total_score conn));
  ok (Readme_blocks.transfer conn ~from:1L ~to_:2L 4.);
  Alcotest.(check (float 1e-9)) "total unchanged by a transfer" 13. (ok (Readme_blocks.total_score conn));
  (match ok (Conn.query_one conn "SELECT score FROM users WHERE id = 2") with
   | Some r -> Alcotest.(check string) "moved" "5.0" (Value.to_string (Row.get r 0))
   | None -> Alcotest.fail "no user 2");
  Readme_blocks.report conn;
  (match ok (Readme_blocks.add_user conn "dee") with
   | Some id, [ r ] ->
     Alcotest.(check string) "add_user: count" "4" (Value.to_string (Row.get r 0));
     ok (Readme_blocks.rename conn ~id ~name:"dora");
     (match ok (Conn.query_one conn "SELECT name FROM users WHERE id = ?" ~params:(`Positional [ Value.int64 id ])) with
      | Some r -> Alcotest.(check string) "rename" "'dora'" (Value.to_string (Row.get r 0))
      | None -> Alcotest.fail "renamed user missing");
     ignore (ok (Conn.execute conn "DELETE FROM users WHERE id = ?" ~params:(`Positional [ Value.int64 id ])))
   | _ -> Alcotest.fail "add_user: unexpected results");
  ignore (ok (Conn.execute conn "CREATE TABLE IF NOT EXISTS outbox (email TEXT)"));
  Alcotest.(check int64) "insert_with_retry" 1L (ok (Readme_blocks.insert_with_retry conn "a@x"));
  Readme_blocks.show_stats db;
  (* migrate_step in a directory with an old workflow file *)
  let here = Sys.getcwd () in
  let d = Filename.temp_file "turso-readme" "" in
  Sys.remove d;
  Sys.mkdir d 0o700;
  Sys.chdir d;
  close_out (open_out "diff.sql");
  Unix.putenv "TURSO_DATABASE_URL" "";
  Readme_blocks.migrate_step ();
  Alcotest.(check string) "legacy detected" "legacy" (Compat.detect_workflow_mode ());
  Sys.remove "diff.sql";
  Unix.putenv "TURSO_DATABASE_URL" (Filename.concat d "m.db");
  Readme_blocks.migrate_step ();
  Alcotest.(check bool) "migrate_step created the database" true (Sys.file_exists "m.db");
  Unix.putenv "TURSO_DATABASE_URL" "";
  Sys.chdir here;
  ignore (ok (Conn.batch conn
    "CREATE TABLE email_schedules (id INTEGER PRIMARY KEY, email TEXT, send_at REAL, attempts INTEGER,
       payload TEXT, sent INTEGER, recipient TEXT);
     INSERT INTO email_schedules VALUES (1, 'a@x', 10.0, 0, NULL, 0, 'Ann');
     INSERT INTO email_schedules VALUES (2, 'b@x', 99.0, 0, '{}', 0, 'Bob')"));
  (match ok (Readme_blocks.due_emails conn ~now:50.) with
   | [ e ] ->
     Alcotest.(check string) "renamed column" "Ann" e.Readme_blocks.to_;
     Alcotest.(check int) "default for a missing column" 0 e.priority;
     Alcotest.(check (option string)) "NULL is None" None e.payload
   | l -> Alcotest.failf "expected one due email, got %d" (List.length l));
  Alcotest.(check (list string)) "columns"
    [ "id"; "email"; "send_at"; "attempts"; "payload"; "sent"; "priority"; "recipient" ]
    Readme_blocks.email_schedule_columns;
  (* the vectors example: the nearest two, closest first, as records *)
  (match ok (Readme_blocks.similar conn [| 0.7; 0.3; 0. |]) with
   | [ a; b ] ->
     Alcotest.(check (list string)) "similar: nearest first" [ "orange"; "red" ] [ a.Readme_blocks.title; b.title ];
     Alcotest.(check (array (float 0.))) "similar: the vector back" [| 0.75; 0.25; 0. |] a.embedding
   | l -> Alcotest.failf "similar: expected 2 docs, got %d" (List.length l));
  Conn.close conn;
  Db.close db;
  (* the migrations example, from ./migrations, in a directory of its own
     (test/migrations is the checked-queries example's schema) *)
  let here = Sys.getcwd () in
  let dir = Filename.temp_file "turso-readme" "" in
  Sys.remove dir;
  Unix.mkdir dir 0o700;
  Sys.chdir dir;
  Unix.mkdir "migrations" 0o700;
  let oc = open_out "migrations/0001_notes.sql" in
  output_string oc "CREATE TABLE IF NOT EXISTS readme_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);";
  close_out oc;
  let db = ok (Db.open_local ":memory:") in
  let conn = ok (Conn.connect db) in
  Alcotest.(check int) "migrate: applied" 1 (List.length (ok (Readme_blocks.migrate conn)));
  Alcotest.(check int) "migrate: then nothing" 0 (List.length (ok (Readme_blocks.migrate conn)));
  Conn.close conn;
  Db.close db;
  Sys.chdir here;
  (* the encryption example: a new encrypted file, then its key checked *)
  (try Sys.remove "secrets.db" with Sys_error _ -> ());
  let db = ok (Readme_blocks.open_encrypted ~key:"readme-key") in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "CREATE TABLE s (x)"));
  Conn.close c;
  Db.close db;
  (match Db.open_local "secrets.db" with
   | Ok _ -> Alcotest.fail "secrets.db opened without its key"
   | Error e -> Alcotest.(check bool) "encrypted: needs its key" true (e.kind = `Config));
  (* the tracing example, then back to quiet *)
  Readme_blocks.trace_everything ();
  Alcotest.(check bool) "tracing on" true (Logs.Src.level Trace.src = Some Logs.Debug);
  Logs.set_reporter Logs.nop_reporter;
  Logs.Src.set_level Trace.src (Some Logs.Warning);
  Trace.set_slow None;
  (* nothing listens on this port: a clear network error, no hang *)
  (match Readme_blocks.open_all ~url:"http://127.0.0.1:9" ~token:"t0k3n-not-shown" with
   | Ok _ -> Alcotest.fail "open_all: no server, yet it worked"
   | Error e -> Alcotest.(check bool) "open_all without a server" true (Error.is_transient e));
  (* one functor, both fibers *)
  let db = ok (Db.open_local "readme.db") in
  let conn = ok (Conn.connect db) in
  Alcotest.(check string) "Users (Turso)" "3" (Value.to_string (ok (Readme_blocks.Blocking_users.count conn)));
  Alcotest.(check string) "Users (Turso), Io.map" "3" (Value.to_string (Readme_blocks.Blocking_users.count_or_zero conn));
  Conn.close conn;
  Db.close db;
  let lwt_count =
    Lwt_main.run
      (let open Lwt.Syntax in
       let* db = Turso_lwt.Db.open_local "readme.db" in
       let db = ok db in
       let* conn = Turso_lwt.Conn.connect db in
       let conn = ok conn in
       let* n = Readme_blocks.Lwt_users.count_or_zero conn in
       let* () = Turso_lwt.Conn.close conn in
       let+ () = Turso_lwt.Db.close db in
       n)
  in
  Alcotest.(check string) "Users (Turso_lwt)" "3" (Value.to_string lwt_count);
  match Lwt_main.run (Readme_blocks.count_users "readme.db") with
  | Ok (Some r) -> Alcotest.(check string) "count_users (Lwt)" "3" (Value.to_string (Row.get r 0))
  | Ok None -> Alcotest.fail "count_users: no row"
  | Error e -> Alcotest.fail (Error.to_string e)

let () = Alcotest.run "README examples" [ ("readme", [ Alcotest.test_case "examples run" `Quick test_examples ]) ]
