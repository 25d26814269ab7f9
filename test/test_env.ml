(* Db.of_env: the environment and .env files. No server needed: remote URLs
   point at a port where nothing listens. Variables are process-wide, so this
   suite has an executable of its own. An empty variable counts as unset
   (OCaml's Unix has no unsetenv). *)

open Turso

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)
let clear () = List.iter (fun v -> Unix.putenv v "") [ "TURSO_DATABASE_URL"; "TURSO_AUTH_TOKEN"; "TURSO_REPLICA_PATH" ]

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
  write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_AUTH_TOKEN=%s\nTURSO_REPLICA_PATH=\n" secret);
  check_no_token "remote, no replica" (Db.of_env ~env_file:env ());
  write env (Printf.sprintf "TURSO_DATABASE_URL=http://127.0.0.1:9\nTURSO_AUTH_TOKEN=%s\nTURSO_REPLICA_PATH=%s/r.db\n" secret d);
  check_no_token "replica" (Db.of_env ~env_file:env ())

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  Alcotest.run "turso of_env"
    [ ( "of_env",
        [ tc ".env syntax" test_env_file_syntax; tc "the environment wins" test_environment_wins;
          tc "no URL: a config error naming the variable" test_missing_url;
          tc "remote and replica URLs, token kept out" test_remote_modes ] ) ]
