(* Starting tursodb --sync-server (the Turso engine's sync server) for the
   synced-mode suite: on 127.0.0.1, a free port, a fresh database file in a
   fresh directory; stopped by PID. The binary: TURSODB_BIN, which `make
   test` sets from tools/install-tursodb.sh (pinned, hash-checked, kept in
   a cache outside the repository). *)

let bin = match Sys.getenv_opt "TURSODB_BIN" with Some b when b <> "" && Sys.file_exists b -> Some b | _ -> None

type t = { mutable pid : int; port : int; dir : string }

let fresh_dir () =
  let d = Filename.temp_file "turso-tursodb" "" in
  Sys.remove d;
  Unix.mkdir d 0o700;
  at_exit (fun () -> ignore (Sys.command (Printf.sprintf "rm -rf %s" (Filename.quote d))));
  d

let spawn bin dir port =
  let log = Unix.openfile (Filename.concat dir "tursodb.log") [ Unix.O_WRONLY; Unix.O_CREAT; Unix.O_APPEND ] 0o600 in
  let pid =
    Unix.create_process bin
      [| bin; Filename.concat dir "server.db"; "--sync-server"; Printf.sprintf "127.0.0.1:%d" port |]
      Unix.stdin log log
  in
  Unix.close log;
  Sqld.wait_listening port ~seconds:30.;
  pid

(* A server of its own (each test its own database). *)
let start bin =
  let dir = fresh_dir () in
  let port = Sqld.free_port () in
  let s = { pid = spawn bin dir port; port; dir } in
  at_exit (fun () -> try Unix.kill s.pid Sys.sigkill; ignore (Unix.waitpid [] s.pid) with Unix.Unix_error _ -> ());
  s

let stop s =
  (try Unix.kill s.pid Sys.sigkill with Unix.Unix_error _ -> ());
  (try ignore (Unix.waitpid [] s.pid) with Unix.Unix_error _ -> ())

(* Again, on the same port and data, after [stop]. *)
let restart bin s = s.pid <- spawn bin s.dir s.port

let url s = Printf.sprintf "http://127.0.0.1:%d" s.port

let skipped = "SKIPPED: the synced-mode tests need tursodb; run them with `make test` (which installs it) or set TURSODB_BIN"

(* As Sqld.no_server: under CI=true a missing server fails the run. *)
let no_server = Sqld.missing ~server:"tursodb (TURSODB_BIN; `make test` installs it)" ~skipped
