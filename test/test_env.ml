(* Db.of_env: the environment and .env files. No server needed: remote URLs
   point at a port where nothing listens. Variables are process-wide, so this
   suite has an executable of its own. An empty variable counts as unset
   (OCaml's Unix has no unsetenv). *)

open Turso

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)
let err ~kind = function
  | Ok _ -> Alcotest.fail "expected an error"
  | Error e ->
    Alcotest.(check bool) ("kind of " ^ Error.to_string e) true (e.Error.kind = kind);
    e

let clear () =
  List.iter (fun v -> Unix.putenv v "")
    [ "TURSO_DATABASE_URL"; "TURSO_AUTH_TOKEN"; "TURSO_REPLICA_PATH"; "TURSO_SYNCED_PATH"; "TURSO_PUSH_INTERVAL";
      "TURSO_PULL_INTERVAL"; "TURSO_AUTO_PUSH"; "TURSO_ENCRYPTION_KEY" ]

let tmp_dir () =
  let d = Filename.temp_file "turso-env" "" in
  Sys.remove d;
  Unix.mkdir d 0o700;
  d

let write path text =
  let oc = open_out_bin path in
  output_string oc text;
  close_out oc

(* Opens through of_env and writes a row, so the file it chose exists. *)
let open_and_touch env_file =
  let db = ok (Db.of_env ~env_file ()) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "CREATE TABLE IF NOT EXISTS t (x)"));
  Conn.close c;
  Db.close db

let test_env_file_syntax () =
  clear ();
  let d = tmp_dir () in
  let env = Filename.concat d ".env" in
  write env
    (String.concat "\n"
       [ "# a comment"; ""; "OTHER=1";
         Printf.sprintf "export TURSO_DATABASE_URL=\"%s/with space.db\"   # trailing comment" d;
         "TURSO_AUTH_TOKEN='abc#def'" ]);
  open_and_touch env;
  Alcotest.(check bool) "double-quoted value with a space, export prefix, comment" true
    (Sys.file_exists (Filename.concat d "with space.db"));
  write env (Printf.sprintf "TURSO_DATABASE_URL=%s/bare.db # comment\n" d);
  open_and_touch env;
  Alcotest.(check bool) "bare value, comment after a space" true (Sys.file_exists (Filename.concat d "bare.db"));
  write env (Printf.sprintf "TURSO_DATABASE_URL=\"%s/esc\\\"aped.db\"\n" d);
  open_and_touch env;
  Alcotest.(check bool) "escapes in double quotes" true (Sys.file_exists (Filename.concat d "esc\"aped.db"))

let test_environment_wins () =
  clear ();
  let d = tmp_dir () in
  let env = Filename.concat d ".env" in
  write env (Printf.sprintf "TURSO_DATABASE_URL=%s/from-file.db\n" d);
  Unix.putenv "TURSO_DATABASE_URL" (Filename.concat d "from-env.db");
  open_and_touch env;
  Alcotest.(check bool) "the environment's value" true (Sys.file_exists (Filename.concat d "from-env.db"));
  Alcotest.(check bool) "not the file's" false (Sys.file_exists (Filename.concat d "from-file.db"));
  clear ()

let test_missing_url () =
  clear ();
  match Db.of_env ~env_file:"/nonexistent/.env" () with
  | Ok _ -> Alcotest.fail "opened a database with no URL"
  | Error e ->
    Alcotest.(check string) "kind" "config" (Error.kind_to_string e.kind);
    Alcotest.(check bool) ("names the variable: " ^ e.message) true
      (try ignore (Str.search_forward (Str.regexp_string "TURSO_DATABASE_URL") e.message 0); true with Not_found -> false)

let test_remote_modes () =
  clear ();
  let d = tmp_dir () in
  let env = Filename.concat d ".env" in
  let secret = "tok-5e3cr3t-value" in
  (* A remote database is opened without a request: the first statement is
     where the missing server shows. *)
  let first_statement = function
    | Error e -> Error e
    | Ok db -> (
      match Conn.connect db with Error e -> Error e | Ok c -> Result.map ignore (Conn.execute c "SELECT 1"))
  in
  let check_no_token what r =
    match first_statement r with
    | Ok _ -> Alcotest.failf "%s: worked with no server" what
    | Error (e : Error.t) ->
      Alcotest.(check bool) (what ^ ": transient: " ^ Error.to_string e) true (Error.is_transient e);
      Alcotest.(check bool) (what ^ ": no token in the error") false
        (try ignore (Str.search_forward (Str.regexp_string secret) (Error.to_string e) 0); true with Not_found -> false)
  in
  write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_AUTH_TOKEN=%s\nTURSO_REPLICA_PATH=none\n" secret);
  check_no_token "remote, no replica" (Db.of_env ~env_file:env ());
  write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_AUTH_TOKEN=%s\nTURSO_REPLICA_PATH=%s/r.db\n" secret d);
  check_no_token "replica" (Db.of_env ~env_file:env ())

let contains s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false

let test_config () =
  clear ();
  let d = tmp_dir () in
  let env = Filename.concat d ".env" in
  let secret = "tok-9c1e77aa55" in
  write env (Printf.sprintf "TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_AUTH_TOKEN=%s\n" secret);
  (match ok (Config.of_env ~env_file:env ()) with
   | Config.Replica { path; url; auth_token; encryption_key = None } ->
     Alcotest.(check string) "default replica path" Config.default_replica_path path;
     Alcotest.(check string) "url" "libsql://db.example.io" url;
     Alcotest.(check string) "token" secret auth_token
   | c -> Alcotest.failf "expected a replica, got %s" (Config.to_string c));
  let text = Config.to_string (ok (Config.of_env ~env_file:env ())) in
  Alcotest.(check bool) ("token not shown: " ^ text) false (contains text secret);
  Alcotest.(check bool) "its length is" true (contains text (Printf.sprintf "set (%d characters)" (String.length secret)));
  write env "TURSO_DATABASE_URL=https://db.example.io\nTURSO_REPLICA_PATH=none\n";
  (match ok (Config.of_env ~env_file:env ()) with
   | Config.Remote { auth_token = ""; _ } as c ->
     Alcotest.(check bool) "no token: said so" true (contains (Config.to_string c) "auth token not set")
   | c -> Alcotest.failf "expected remote without token, got %s" (Config.to_string c));
  write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_AUTH_TOKEN=%s\nTURSO_SYNCED_PATH=s.db\n" secret);
  (match ok (Config.of_env ~env_file:env ()) with
   | Config.Synced { path = "s.db"; url = "http://127.0.0.1:9"; auth_token; push_interval = None; pull_interval = None; auto_push = false } as c ->
     Alcotest.(check string) "synced: token" secret auth_token;
     let text = Config.to_string c in
     Alcotest.(check bool) ("synced: said, token not shown: " ^ text) true
       (contains text "synced database s.db" && not (contains text secret))
   | c -> Alcotest.failf "expected a synced database, no background work, got %s" (Config.to_string c));
  (* its background work, from the environment *)
  let synced_env extra =
    write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_SYNCED_PATH=s.db\n%s" extra);
    Config.of_env ~env_file:env ()
  in
  (match ok (synced_env "TURSO_PUSH_INTERVAL=2.5\nTURSO_PULL_INTERVAL=60\nTURSO_AUTO_PUSH=Yes\n") with
   | Config.Synced { push_interval = Some 2.5; pull_interval = Some 60.; auto_push = true; _ } as c ->
     Alcotest.(check string) "said" "synced database s.db (Turso engine) of http://127.0.0.1:9, auth token not set; push every 2.5 s, pull every 60 s, every commit pushed"
       (Config.to_string c)
   | c -> Alcotest.failf "expected a synced database with background work, got %s" (Config.to_string c));
  (match ok (synced_env "TURSO_AUTO_PUSH=' yes '\n") with
   | Config.Synced { auto_push = true; _ } -> ()
   | c -> Alcotest.failf "TURSO_AUTO_PUSH=' yes ': got %s" (Config.to_string c));
  (match Config.of_env ~env_file:(write env "TURSO_DATABASE_URL=/tmp/l.db\nTURSO_PUSH_INTERVAL=5\n"; env) () with
   | Ok c -> Alcotest.failf "a push interval for a local file accepted: %s" (Config.to_string c)
   | Error e -> Alcotest.(check bool) ("local file, push interval: " ^ e.message) true (contains e.message "TURSO_PUSH_INTERVAL is for a synced database"));
  (match ok (synced_env "TURSO_AUTO_PUSH=off\n") with
   | Config.Synced { auto_push = false; push_interval = None; _ } -> ()
   | c -> Alcotest.failf "TURSO_AUTO_PUSH=off: got %s" (Config.to_string c));
  List.iter
    (fun (extra, names) ->
      let e = err ~kind:`Config (synced_env extra) in
      Alcotest.(check bool) (extra ^ ": named in " ^ e.Error.message) true (contains e.Error.message names))
    [ ("TURSO_PUSH_INTERVAL=5s\n", "TURSO_PUSH_INTERVAL=5s"); ("TURSO_PULL_INTERVAL=0\n", "TURSO_PULL_INTERVAL=0");
      ("TURSO_PULL_INTERVAL=nan\n", "seconds above 0"); ("TURSO_AUTO_PUSH=sure\n", "TURSO_AUTO_PUSH=sure") ];
  (* without TURSO_SYNCED_PATH: a replica would never push; said, not ignored *)
  write env "TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_AUTO_PUSH=1\n";
  let e = err ~kind:`Config (Config.of_env ~env_file:env ()) in
  Alcotest.(check bool) ("auto push without a synced path: " ^ e.Error.message) true
    (contains e.Error.message "TURSO_AUTO_PUSH is for a synced database");
  (* TURSO_ENCRYPTION_KEY: for local files and replicas; never shown *)
  write env "TURSO_DATABASE_URL=/tmp/x.db\nTURSO_ENCRYPTION_KEY=s3cret-key-77\n";
  (match ok (Config.of_env ~env_file:env ()) with
   | Config.Local { path = "/tmp/x.db"; encryption_key = Some "s3cret-key-77" } as c ->
     Alcotest.(check bool) "key not shown" false (contains (Config.to_string c) "s3cret-key-77")
   | c -> Alcotest.failf "expected an encrypted local file, got %s" (Config.to_string c));
  write env "TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_ENCRYPTION_KEY=s3cret-key-77\n";
  (match ok (Config.of_env ~env_file:env ()) with
   | Config.Replica { encryption_key = Some "s3cret-key-77"; _ } -> ()
   | c -> Alcotest.failf "expected an encrypted replica, got %s" (Config.to_string c));
  List.iter
    (fun (extra, what) ->
      write env ("TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_ENCRYPTION_KEY=s3cret-key-77\n" ^ extra);
      match Config.of_env ~env_file:env () with
      | Ok c -> Alcotest.failf "%s: accepted as %s" what (Config.to_string c)
      | Error e ->
        Alcotest.(check bool) (what ^ ": " ^ e.message) true
          (e.kind = `Config && contains e.message "TURSO_ENCRYPTION_KEY" && not (contains e.message "s3cret-key-77")))
    [ ("TURSO_SYNCED_PATH=s.db\n", "synced"); ("TURSO_REPLICA_PATH=none\n", "remote without a replica") ];
  write env "TURSO_DATABASE_URL=/tmp/x.db\n";
  Alcotest.(check bool) "a path is local" true (ok (Config.of_env ~env_file:env ()) = Config.local "/tmp/x.db")

let test_workflow_mode () =
  clear ();
  let d = tmp_dir () in
  let no_env = Filename.concat d "missing.env" in
  let mode () = Compat.detect_workflow_mode ~dir:d ~env_file:no_env () in
  Alcotest.(check string) "nothing there" "uninitialized" (mode ());
  List.iter
    (fun f ->
      write (Filename.concat d f) "";
      Alcotest.(check string) ("legacy: " ^ f) "legacy" (mode ());
      Alcotest.(check (list string)) "found" [ f ] (Compat.find_legacy_files ~dir:d ());
      Sys.remove (Filename.concat d f))
    Compat.legacy_files;
  write (Filename.concat d "diff.sql") "";
  write (Filename.concat d Config.default_replica_path) "";
  Alcotest.(check string) "a replica file present wins over legacy files" "ffi" (mode ());
  Sys.remove (Filename.concat d Config.default_replica_path);
  let env = Filename.concat d ".env" in
  write env "TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_AUTH_TOKEN=x\n";
  Alcotest.(check string) "a replica configured" "ffi" (Compat.detect_workflow_mode ~dir:d ~env_file:env ());
  write env "TURSO_DATABASE_URL=libsql://db.example.io\nTURSO_REPLICA_PATH=none\n";
  Alcotest.(check string) "remote without replica, legacy files left" "legacy"
    (Compat.detect_workflow_mode ~dir:d ~env_file:env ())

let test_compat () =
  clear ();
  let d = tmp_dir () in
  let env = Filename.concat d ".env" in
  write env (Printf.sprintf "TURSO_DATABASE_URL=%s/compat.db\n" d);
  let c = ok (Compat.get_connection ~env_file:env ()) in
  Alcotest.(check bool) "the same connection next time" true (ok (Compat.get_connection ~env_file:env ()) == c);
  ok (Compat.execute_sql_no_result c "CREATE TABLE s (id INTEGER PRIMARY KEY, email TEXT NOT NULL)");
  ok (Compat.execute_transaction c [ "INSERT INTO s (email) VALUES ('a@x')"; "INSERT INTO s (email) VALUES ('b@x')" ]);
  (match Compat.execute_transaction c [ "INSERT INTO s (email) VALUES ('c@x')"; "INSERT INTO s (email) VALUES (NULL)" ] with
   | Ok () -> Alcotest.fail "NULL email accepted"
   | Error e ->
     Alcotest.(check bool) ("string_of_db_error: " ^ Compat.string_of_db_error e) true
       (contains (Compat.string_of_db_error e) "NOT NULL"));
  let rows = ok (Compat.execute_sql_safe c "SELECT email FROM s WHERE id > ? ORDER BY id" ~params:(`Positional [ Value.int 0 ])) in
  Alcotest.(check (list string)) "all or nothing" [ "'a@x'"; "'b@x'" ] (List.map (fun r -> Value.to_string (Row.get r 0)) rows);
  (match Compat.execute_sql_safe c "SELEC" with Ok _ -> Alcotest.fail "bad SQL accepted" | Error e -> Alcotest.(check bool) "sql error" true (e.kind = `Sql));
  let st = ok (Compat.get_database_stats c) in
  Alcotest.(check string) "mode" "file" (Stats.mode_to_string st.Stats.mode);
  Alcotest.(check bool) "statements counted" true (st.Stats.statements >= 7L);
  (match Compat.manual_sync c with Ok _ -> Alcotest.fail "sync on a local file" | Error e -> Alcotest.(check bool) "misuse" true (e.kind = `Misuse));
  Compat.close_connection c;
  let c2 = ok (Compat.get_connection ~env_file:env ()) in
  Alcotest.(check bool) "a new one after close" true (c2 != c);
  Compat.close_connection c2

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  Alcotest.run "turso of_env"
    [ ( "of_env",
        [ tc ".env syntax" test_env_file_syntax; tc "the environment wins" test_environment_wins;
          tc "no URL: a config error naming the variable" test_missing_url;
          tc "remote and replica URLs, token kept out" test_remote_modes ] );
      ( "config and migration",
        [ tc "Config.of_env, token never shown" test_config; tc "detect_workflow_mode" test_workflow_mode;
          tc "Compat facade on a local file" test_compat ] ) ]
