(* turso-ocaml, run as a process: output and exit codes. Also the
   email-scheduler example, run to its end. *)

let exe = Filename.concat (Sys.getcwd ()) Sys.argv.(1)
let example = Filename.concat (Sys.getcwd ()) Sys.argv.(2)

let tmp_dir () =
  let d = Filename.temp_file "turso-cli" "" in
  Sys.remove d;
  Unix.mkdir d 0o700;
  d

let read_all ic =
  let b = Buffer.create 4096 in
  (try
     while true do
       Buffer.add_channel b ic 1
     done
   with End_of_file -> ());
  Buffer.contents b

(* Runs [prog args] in [dir] with a clean environment (no TURSO_ variables), stdin
   from [input]; returns (exit code, stdout, stderr). *)
let run ?(input = "") ?(env = []) ~dir prog args =
  let env = Array.of_list (("PATH=" ^ Option.value (Sys.getenv_opt "PATH") ~default:"/usr/bin:/bin") :: env) in
  let inp = Filename.concat dir ".stdin" in
  let oc = open_out_bin inp in
  output_string oc input;
  close_out oc;
  let out = Filename.concat dir ".stdout" and err = Filename.concat dir ".stderr" in
  let fd f flags = Unix.openfile f flags 0o600 in
  let i = fd inp [ Unix.O_RDONLY ] and o = fd out [ Unix.O_WRONLY; Unix.O_CREAT; Unix.O_TRUNC ]
  and e = fd err [ Unix.O_WRONLY; Unix.O_CREAT; Unix.O_TRUNC ] in
  let here = Sys.getcwd () in
  Sys.chdir dir;
  let pid = Unix.create_process_env prog (Array.of_list (prog :: args)) env i o e in
  Sys.chdir here;
  List.iter Unix.close [ i; o; e ];
  let code = match snd (Unix.waitpid [] pid) with Unix.WEXITED c -> c | _ -> -1 in
  let slurp f = let ic = open_in_bin f in let s = read_all ic in close_in ic; s in
  (code, slurp out, slurp err)

let contains s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false
let check_contains what s sub = Alcotest.(check bool) (Printf.sprintf "%s: %S in %S" what sub s) true (contains s sub)
let check_code what expected (code, out, err) =
  Alcotest.(check int) (Printf.sprintf "%s: exit code (stdout %S, stderr %S)" what out err) expected code

(* --verbose: syncs and retries on stderr; -vv each statement too, values
   not shown; without it, nothing on stderr. *)
let test_verbose () =
  let dir = tmp_dir () in
  let cli args = run ~dir exe args in
  check_code "create" 0 (cli [ "exec"; "--db"; "v.db"; "CREATE TABLE t (x TEXT)" ]);
  let (_, _, err) as r = cli [ "exec"; "--db"; "v.db"; "INSERT INTO t VALUES (?)"; "-p"; "hunter2" ] in
  check_code "quiet" 0 r;
  Alcotest.(check string) "without -v: nothing on stderr" "" err;
  let (_, out, err) as r = cli [ "exec"; "--db"; "v.db"; "-vv"; "INSERT INTO t VALUES (?)"; "-p"; "hunter2" ] in
  check_code "-vv" 0 r;
  Alcotest.(check string) "stdout as without -v" "1 row changed\n" out;
  check_contains "-vv: the statement" err "[DEBUG] local";
  check_contains "-vv: its SQL and rows" err "INSERT INTO t VALUES (?) [TEXT] -> 1 row changed";
  Alcotest.(check bool) ("-vv: no parameter value: " ^ err) false (contains err "hunter2");
  let _, _, err = cli [ "exec"; "--db"; "v.db"; "-v"; "INSERT INTO t VALUES ('a')" ] in
  Alcotest.(check string) "-v: no statements" "" err

(* TURSO_ENCRYPTION_KEY: the file is encrypted, the key never printed
   (doctor, errors, -vv), and without it the file is refused, said so. *)
let test_encryption () =
  let dir = tmp_dir () in
  let key = "cli-secret-key-4711" in
  let with_key args = run ~dir ~env:[ "TURSO_ENCRYPTION_KEY=" ^ key ] exe args in
  check_code "create" 0 (with_key [ "exec"; "--db"; "e.db"; "CREATE TABLE t (x TEXT)" ]);
  let (_, out, err) as r = with_key [ "exec"; "--db"; "e.db"; "-vv"; "INSERT INTO t VALUES ('hidden')" ] in
  check_code "insert" 0 r;
  let (_, out2, _) as r = with_key [ "doctor"; "--db"; "e.db" ] in
  check_code "doctor with the key" 0 r;
  check_contains "doctor: said encrypted" out2 "local file e.db (encrypted, key set)";
  check_contains "doctor: checked with the key" out2 "[ok] database file: e.db is healthy";
  let (_, out3, err3) as r = run ~dir exe [ "query"; "--db"; "e.db"; "SELECT x FROM t" ] in
  check_code "without the key" 1 r;
  check_contains "said" err3 "is encrypted";
  let (_, out4, err4) as r = run ~dir ~env:[ "TURSO_ENCRYPTION_KEY=wrong-key" ] exe [ "query"; "--db"; "e.db"; "SELECT x FROM t" ] in
  check_code "a wrong key" 1 r;
  check_contains "said" err4 "wrong encryption key";
  (* a key where it would encrypt nothing: refused, not ignored *)
  let (_, _, err5) as r = with_key [ "query"; "--url"; "http://127.0.0.1:9"; "--no-replica"; "SELECT 1" ] in
  check_code "a key with --no-replica" 1 r;
  check_contains "said" err5 "TURSO_ENCRYPTION_KEY encrypts local files and replicas";
  let (_, _, err6) as r = with_key [ "push"; "--url"; "http://127.0.0.1:9"; "--synced"; "s.db" ] in
  check_code "a key with --synced" 1 r;
  check_contains "said" err6 "a synced database (Turso engine) cannot be encrypted here yet";
  List.iter
    (fun s -> Alcotest.(check bool) ("no key in: " ^ s) false (contains s key))
    [ out; err; out2; out3; err3; out4; err4; err5; err6 ]

(* migrate and migrate status on a directory of files *)
let test_migrate () =
  let dir = tmp_dir () in
  let cli args = run ~dir exe args in
  Unix.mkdir (Filename.concat dir "migrations") 0o700;
  let file f text = let oc = open_out (Filename.concat dir ("migrations/" ^ f)) in output_string oc text; close_out oc in
  file "0001_init.sql" "CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT);";
  file "0002_seed.sql" "INSERT INTO u (name) VALUES ('ada');";
  let (_, out, _) as r = cli [ "migrate"; "status"; "--db"; "m.db" ] in
  check_code "status" 0 r;
  Alcotest.(check string) "status before" "at version none (nothing applied)\n  pending  0001_init\n  pending  0002_seed\n" out;
  let (_, out, _) as r = cli [ "migrate"; "--db"; "m.db" ] in
  check_code "migrate" 0 r;
  check_contains "applied both" out "applied 0001_init\napplied 0002_seed\n2 migrations in";
  let _, out, _ = cli [ "migrate"; "--db"; "m.db" ] in
  Alcotest.(check string) "again" "up to date: nothing to apply\n" out;
  file "0002_seed.sql" "INSERT INTO u (name) VALUES ('bob');";
  let (_, _, err) as r = cli [ "migrate"; "--db"; "m.db" ] in
  check_code "a changed file" 1 r;
  check_contains "said" err "migration 0002_seed was changed after it was applied";
  let (_, _, err) as r = cli [ "migrate"; "--db"; "m.db"; "--dir"; "nope" ] in
  check_code "no directory" 1 r;
  check_contains "said" err "migrations directory nope"

let test_query_exec () =
  let dir = tmp_dir () in
  let cli args = run ~dir exe args in
  check_code "create" 0 (cli [ "exec"; "--db"; "t.db"; "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)" ]);
  let (_, out, _) as r = cli [ "exec"; "--db"; "t.db"; "INSERT INTO t (name, score) VALUES (?, ?), ('bö, \"q\"', NULL)"; "-p"; "ada"; "-p"; "9.5" ] in
  check_code "insert" 0 r;
  Alcotest.(check string) "rows changed" "2 rows changed\n" out;
  let (_, out, _) as r = cli [ "query"; "--db"; "t.db"; "SELECT id, name, score FROM t ORDER BY id" ] in
  check_code "query" 0 r;
  Alcotest.(check string) "table"
    "id | name    | score\n---+---------+------\n1  | ada     | 9.5  \n2  | bö, \"q\" | NULL \n(2 rows)\n" out;
  let _, out, _ = cli [ "query"; "--db"; "t.db"; "--json"; "SELECT id, name, score FROM t ORDER BY id" ] in
  Alcotest.(check string) "json"
    "[\n  {\"id\": 1, \"name\": \"ada\", \"score\": 9.5},\n  {\"id\": 2, \"name\": \"bö, \\\"q\\\"\", \"score\": null}\n]\n" out;
  let _, out, _ = cli [ "query"; "--db"; "t.db"; "--csv"; "SELECT id, name, score FROM t ORDER BY id" ] in
  Alcotest.(check string) "csv" "id,name,score\r\n1,ada,9.5\r\n2,\"bö, \"\"q\"\"\",\r\n" out;
  let (_, out, err) as r = cli [ "query"; "--db"; "t.db"; "SELEC 1" ] in
  check_code "bad SQL" 1 r;
  Alcotest.(check string) "nothing on stdout" "" out;
  check_contains "one-line error" err "turso-ocaml: sql error: near \"SELEC\": syntax error";
  Alcotest.(check int) "one line" 1 (List.length (String.split_on_char '\n' (String.trim err)));
  check_code "no SQL" 124 (cli [ "query"; "--db"; "t.db" ]);
  check_code "unknown command" 124 (cli [ "frobnicate" ]);
  List.iter
    (fun c ->
      let (_, out, _) as r = cli [ c; "--help=plain" ] in
      check_code (c ^ " --help") 0 r;
      check_contains (c ^ " --help") out "OPTIONS")
    [ "query"; "exec"; "shell"; "sync"; "stats"; "doctor"; "bench" ];
  let (_, _, err) as r = cli [ "sync"; "--db"; "t.db" ] in
  check_code "sync on a local file" 1 r;
  check_contains "sync error" err "sync is for embedded replicas";
  let (_, out, _) as r = cli [ "stats"; "--db"; "t.db" ] in
  check_code "stats" 0 r;
  check_contains "stats" out "mode                file"

let test_missing_config () =
  let dir = tmp_dir () in
  let (_, out, err) as r = run ~dir exe [ "query"; "SELECT 1" ] in
  check_code "no configuration" 1 r;
  Alcotest.(check string) "no output" "" out;
  check_contains "names the variable" err "TURSO_DATABASE_URL is not set";
  (* from a .env file instead *)
  let oc = open_out (Filename.concat dir ".env") in
  output_string oc "TURSO_DATABASE_URL=from-env.db\n";
  close_out oc;
  let (_, out, _) as r = run ~dir exe [ "query"; "SELECT 40 + 2 AS answer" ] in
  check_code "from .env" 0 r;
  check_contains "answer" out "42";
  Alcotest.(check bool) "the .env database" true (Sys.file_exists (Filename.concat dir "from-env.db"))

let test_shell () =
  let dir = tmp_dir () in
  let input = "CREATE TABLE s (x);\nINSERT INTO s VALUES\n  (1), (2);\nbad sql;\nSELECT sum(x) AS total FROM s; SELECT 'a;b' AS t;\n.tables\n.quit\nSELECT 'not reached';\n" in
  (* piped input: the first error ends the run, with exit code 1, as sqlite3 -bail *)
  let (_, out, err) as r = run ~dir ~input exe [ "shell"; "--db"; "s.db" ] in
  check_code "shell, bail" 1 r;
  check_contains "multi-line insert" out "ok (2 rows changed)";
  check_contains "the error, on stderr" err "error: sql error: near \"bad\": syntax error";
  Alcotest.(check bool) "not on stdout" false (contains out "syntax error");
  Alcotest.(check bool) "nothing after the error ran" false (contains out "total");
  (* --keep-going: the shell goes on, and still exits with 1 *)
  let (_, out, err) as r = run ~dir ~input exe [ "shell"; "--keep-going"; "--db"; "k.db" ] in
  check_code "shell --keep-going" 1 r;
  check_contains "error shown" err "syntax error";
  check_contains "after the error" out "total\n-----\n3    \n(1 row)";
  check_contains "a ';' inside quotes" out "a;b";
  check_contains ".tables" out "name\n----\ns   ";
  Alcotest.(check bool) ".quit stops" false (contains out "not reached");
  (* statements as SQLite ends them: a trigger's body, ';' in comments *)
  let input =
    "CREATE TABLE a (x); CREATE TABLE log (y);\n\
     CREATE TRIGGER tr AFTER INSERT ON a BEGIN\n\
    \  INSERT INTO log VALUES (new.x);\n\
    \  INSERT INTO log VALUES (new.x * 10);\n\
     END;\n\
     INSERT INTO a VALUES (4); /* a comment; with a semicolon */\n\
     SELECT sum(y) AS s -- a comment; too\n\
     FROM log;\n"
  in
  let (_, out, _) as r = run ~dir ~input exe [ "shell"; "--db"; "tr.db" ] in
  check_code "shell, trigger" 0 r;
  check_contains "the trigger ran whole" out "s \n--\n44\n(1 row)"

(* -p as SQL reads numbers; -p -5 works; --help lists every exit code *)
let test_params_help () =
  let dir = tmp_dir () in
  let q args = run ~dir exe ([ "query"; "--db"; "p.db"; "SELECT ?1 AS v, typeof(?1) AS t" ] @ args) in
  List.iter
    (fun (p, expected) ->
      let (_, out, _) as r = q [ "-p"; p ] in
      check_code ("-p " ^ p) 0 r;
      check_contains ("-p " ^ p) out expected)
    [ ("0x10", "0x10 | text"); ("0b11", "0b11 | text"); ("1_000", "1_000 | text"); ("42", "42 | integer");
      ("-5", "-5 | integer"); ("+7", "7 | integer"); ("2.5", "2.5 | real"); ("-1e3", "-1000.0 | real");
      (".5", "0.5 | real"); ("nan", "nan | text"); ("infinity", "infinity | text"); ("12abc", "12abc | text");
      ("99999999999999999999", "1e+20 | real"); ("5\nabc", "abc | text"); ("1.5\nx", "x | text") ];
  let (_, out, _) as r = run ~dir exe [ "query"; "--db"; "p.db"; "SELECT ? + ?"; "--param"; "-2"; "-p"; "-3" ] in
  check_code "negative params" 0 r;
  check_contains "negative params" out "-5";
  let (_, out, _) as r = run ~dir exe [ "--help=plain" ] in
  check_code "help" 0 r;
  List.iter (fun code -> check_contains ("help lists " ^ code) out code) [ "1"; "123"; "124"; "125"; "an error (one line on standard error)" ];
  let (_, out, _) = run ~dir exe [ "doctor"; "--help=plain" ] in
  check_contains "doctor lists 2" out "a problem was found"

(* sync right after open: what the open's own sync brought is said too
   (it used to say "0 frames applied", although the rows had arrived) *)
let test_sync_replica () =
  match Lazy.force Sqld.server with
  | None -> Alcotest.fail Sqld.skipped
  | Some url ->
    let open Turso in
    let db = ok_exn (Db.open_remote ~url ~auth_token:"" ()) in
    let c = ok_exn (Conn.connect db) in
    ignore (ok_exn (Conn.execute c "CREATE TABLE IF NOT EXISTS cli_sync (x)"));
    ignore (ok_exn (Conn.execute c "INSERT INTO cli_sync VALUES (1), (2), (3)"));
    Conn.close c;
    Db.close db;
    let dir = tmp_dir () in
    let (_, out, _) as r = run ~dir exe [ "sync"; "--url"; url; "--replica"; "r.db" ] in
    check_code "sync" 0 r;
    let frames = Scanf.sscanf out "opening synced %d frame" Fun.id in
    Alcotest.(check bool) (Printf.sprintf "the open brought frames (%d): %s" frames out) true (frames > 0);
    check_contains "then this sync" out "synced in";
    check_contains "which applied nothing new" out "0 frames applied";
    let (_, out, _) as r = run ~dir exe [ "query"; "--url"; url; "--replica"; "r.db"; "SELECT count(*) AS n FROM cli_sync" ] in
    check_code "read on the replica" 0 r;
    check_contains "the rows are there" out "3"

(* Every command on a replica works while its primary is down: it reads
   what the file has (it used to fail at open with "Connection refused"). *)
let test_replica_offline_cli () =
  let bin = Option.get Sqld.sqld_bin in
  let s = Sqld.start_sqld bin in
  let url = Sqld.url_of s in
  let dir = tmp_dir () in
  let cli args = run ~dir exe (args @ [ "--url"; url; "--replica"; "r.db"; "--timeout"; "2" ]) in
  check_code "create" 0 (cli [ "exec"; "CREATE TABLE t (x)" ]);
  check_code "insert" 0 (cli [ "exec"; "INSERT INTO t VALUES (7)" ]);
  Sqld.kill_sqld s;
  let (_, out, _) as r = cli [ "query"; "SELECT x FROM t" ] in
  check_code "query, primary down" 0 r;
  check_contains "reads what the replica has" out "7";
  let (_, out, _) as r = cli [ "stats" ] in
  check_code "stats, primary down" 0 r;
  Alcotest.(check bool) ("says why it is behind: " ^ out) false (contains out "last_sync_error     -");
  let (_, _, err) as r = cli [ "exec"; "INSERT INTO t VALUES (8)" ] in
  check_code "a write, primary down: an error" 1 r;
  check_contains "one line saying so" err "turso-ocaml: network error"

(* A synced database from the command line: writes, push, pull, stats and
   doctor; offline, writes still work and push fails in one line. *)
let test_synced_cli () =
  let s = Tursodb.start (Option.get Tursodb.bin) in
  let url = Tursodb.url s in
  let dir = tmp_dir () in
  let cli file args = run ~dir exe (args @ [ "--url"; url; "--synced"; file; "--timeout"; "2" ]) in
  check_code "create" 0 (cli "a.db" [ "exec"; "CREATE TABLE t (x)" ]);
  check_code "insert" 0 (cli "a.db" [ "exec"; "INSERT INTO t VALUES (7), (8)" ]);
  let (_, out, _) as r = cli "a.db" [ "stats" ] in
  check_code "stats" 0 r;
  check_contains "mode" out "synced";
  check_contains "pending changes" out "pending_changes";
  let (_, out, _) as r = cli "a.db" [ "push" ] in
  check_code "push" 0 r;
  check_contains "says what it pushed" out "pushed 3 local changes";
  let (_, out, _) as r = cli "b.db" [ "query"; "SELECT sum(x) FROM t" ] in
  check_code "another client" 0 r;
  check_contains "sees the pushed rows" out "15";
  check_code "insert on b" 0 (cli "b.db" [ "exec"; "INSERT INTO t VALUES (1)" ]);
  check_code "push b" 0 (cli "b.db" [ "push" ]);
  let (_, out, _) as r = cli "a.db" [ "pull" ] in
  check_code "pull" 0 r;
  check_contains "says it pulled" out "pulled changes";
  let (_, out, _) as r = cli "a.db" [ "doctor" ] in
  check_code ("doctor: " ^ out) 0 r;
  check_contains "checks the synced file" out "synced file: a.db is healthy";
  Tursodb.stop s;
  check_code "a write, server down" 0 (cli "a.db" [ "exec"; "INSERT INTO t VALUES (9)" ]);
  let (_, _, err) as r = cli "a.db" [ "push" ] in
  check_code "push, server down" 1 r;
  check_contains "one line saying so" err "turso-ocaml: network error"

let test_doctor () =
  let dir = tmp_dir () in
  let cli args = run ~dir exe args in
  let (_, out, _) as r = cli [ "doctor"; "--db"; "d.db" ] in
  check_code "fresh local" 0 r;
  check_contains "configuration" out "[ok] configuration: local file d.db";
  check_contains "uninitialized" out "workflow: uninitialized";
  check_contains "all good" out "all good";
  ignore (cli [ "exec"; "--db"; "d.db"; "CREATE TABLE x (y)" ]);
  let _, out, _ = cli [ "doctor"; "--db"; "d.db" ] in
  check_contains "file checked" out "[ok] database file: d.db is healthy";
  (* a damaged file *)
  let oc = open_out_bin (Filename.concat dir "bad.db") in
  output_string oc (String.make 4096 'x');
  close_out oc;
  let (_, out, _) as r = cli [ "doctor"; "--db"; "bad.db" ] in
  check_code "damaged file" 2 r;
  check_contains "damaged" out "[problem] database file: bad.db";
  (* the old workflow's files *)
  List.iter (fun f -> close_out (open_out (Filename.concat dir f))) [ "working_copy.db"; "diff.sql" ];
  let (_, out, _) as r = cli [ "doctor" ] in
  check_code "legacy" 2 r;
  check_contains "legacy" out "workflow: legacy: the old copy/diff/apply files are here (working_copy.db, diff.sql)";
  check_contains "pointer to the README" out "Migrating from the copy/diff/apply workflow";
  check_contains "no configuration" out "[problem] configuration: TURSO_DATABASE_URL is not set";
  (* a remote configuration: the token is never printed, only its length;
     nothing listens on the port *)
  let token = "sekret-token-123456" in
  let (_, out, err) as r =
    run ~dir ~env:[ "TURSO_DATABASE_URL=http://127.0.0.1:9"; "TURSO_AUTH_TOKEN=" ^ token ] exe [ "doctor"; "--timeout"; "2" ]
  in
  check_code "server down" 2 r;
  check_contains "token length" out (Printf.sprintf "auth token set (%d characters)" (String.length token));
  check_contains "server" out "[problem] server: http://127.0.0.1:9 cannot be reached";
  Alcotest.(check bool) "the token is not printed" false (contains (out ^ err) token);
  (* nor when it is in the URL *)
  let (_, out, err) as r =
    run ~dir ~env:[ "TURSO_DATABASE_URL=http://127.0.0.1:9?authToken=" ^ token ] exe [ "doctor"; "--timeout"; "2" ]
  in
  check_code "server down, token in the URL" 2 r;
  check_contains "server, URL redacted" out "[problem] server: http://127.0.0.1:9?authToken=<redacted> cannot be reached";
  Alcotest.(check bool) ("the URL's token is not printed: " ^ out ^ err) false (contains (out ^ err) token)

let test_bench_local () =
  let dir = tmp_dir () in
  let (_, out, _) as r = run ~dir exe [ "bench"; "--db"; "b.db"; "--inserts"; "20"; "--reads"; "50" ] in
  check_code "bench" 0 r;
  List.iter (check_contains "bench" out)
    [ "single-row insert, median (20 runs)"; "1,000-row batch insert"; "10-30 s"; "2-5 s"; "point read, median (50 runs)" ];
  let _, out, _ = run ~dir exe [ "query"; "--db"; "b.db"; ".tables" ] in
  ignore out;
  let _, out, _ = run ~dir exe [ "query"; "--db"; "b.db"; "SELECT count(*) FROM sqlite_schema WHERE name = 'turso_ocaml_bench'" ] in
  check_contains "its table is dropped" out "0"

let test_example () =
  let dir = tmp_dir () in
  let (_, out, _) as r = run ~dir example [ "--lwt"; "--count"; "3000"; "es.db" ] in
  check_code "example" 0 r;
  check_contains "blocking" out "blocking: scheduled 3000 emails in one transaction";
  check_contains "due" out "blocking: 1500 due";
  check_contains "marked" out "marked 1500 sent";
  check_contains "pending" out "1500 still pending";
  check_contains "lwt" out "lwt: scheduled 3000 emails";
  check_contains "lwt marked" out "lwt: 1500 due, marked 1500 sent"

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  Alcotest.run ~argv:[| Sys.argv.(0) |] "turso-ocaml"
    ([ ( "cli",
        [ tc "query and exec" test_query_exec; tc "missing configuration, .env" test_missing_config;
          tc "shell" test_shell; tc "-p and --help" test_params_help; tc "doctor" test_doctor; tc "bench" test_bench_local;
          tc "--verbose" test_verbose; tc "migrate" test_migrate;
          tc "TURSO_ENCRYPTION_KEY" test_encryption ] );
      ("example", [ tc "email scheduler, blocking and Lwt" test_example ]) ]
    @ if Sqld.sqld_bin = None then (Sqld.no_server "cli on a replica: 2 cases not run"; [])
      else
        [ ( "sqld",
            [ tc "sync right after open" test_sync_replica;
              tc "a replica, its primary down" test_replica_offline_cli ] ) ]
    @ if Tursodb.bin = None then (Tursodb.no_server "cli on a synced database: 1 case not run"; [])
      else [ ("tursodb", [ tc "a synced database: push, pull, stats, doctor" test_synced_cli ]) ])
