(* Starting sqld for the test suites that need a server (test/remote,
   test/modes): on 127.0.0.1, a free port, a fresh data directory. *)

(* SQLD_BIN, or else the test server kept beside the project: shared/bin/sqld
   in the repository's parent directory (found by walking up from the test's
   directory, which dune puts under _build). *)
let sqld_bin =
  match Sys.getenv_opt "SQLD_BIN" with
  | Some b when b <> "" -> Some b
  | _ ->
    let rec up dir =
      let candidate = Filename.concat dir (Filename.concat "shared" (Filename.concat "bin" "sqld")) in
      if Sys.file_exists candidate then Some candidate
      else
        let parent = Filename.dirname dir in
        if parent = dir then None else up parent
    in
    up (Sys.getcwd ())

let free_port () =
  let s = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.bind s (Unix.ADDR_INET (Unix.inet_addr_loopback, 0));
  let port = match Unix.getsockname s with Unix.ADDR_INET (_, p) -> p | _ -> assert false in
  Unix.close s;
  port

let wait_listening port ~seconds =
  let deadline = Unix.gettimeofday () +. seconds in
  let rec go () =
    let s = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
    match Unix.connect s (Unix.ADDR_INET (Unix.inet_addr_loopback, port)) with
    | () -> Unix.close s
    | exception Unix.Unix_error _ ->
      Unix.close s;
      if Unix.gettimeofday () > deadline then failwith "sqld did not start listening"
      else (Unix.sleepf 0.1; go ())
  in
  go ()

type sqld = { pid : int; port : int; dir : string; args : string list; bin : string }

(* Starts sqld on 127.0.0.1 ([port], or a free one) with its data in [dir]
   (or a fresh directory); extra arguments in [args]. *)
let start_sqld ?port ?dir ?(args = []) bin =
  let dir =
    match dir with
    | Some d -> d
    | None ->
      let d = Filename.temp_file "turso-sqld" "" in
      Sys.remove d;
      Unix.mkdir d 0o700;
      at_exit (fun () -> ignore (Sys.command (Printf.sprintf "rm -rf %s" (Filename.quote d))));
      d
  in
  let port = match port with Some p -> p | None -> free_port () in
  let log = Unix.openfile (Filename.concat dir "sqld.log") [ Unix.O_WRONLY; Unix.O_CREAT; Unix.O_APPEND ] 0o600 in
  let pid =
    Unix.create_process bin
      (Array.of_list
         ([ bin; "--db-path"; Filename.concat dir "data"; "--http-listen-addr"; Printf.sprintf "127.0.0.1:%d" port;
            "--no-welcome" ] @ args))
      Unix.stdin log log
  in
  Unix.close log;
  let s = { pid; port; dir; args; bin } in
  at_exit (fun () -> try Unix.kill pid Sys.sigkill; ignore (Unix.waitpid [] pid) with Unix.Unix_error _ -> ());
  wait_listening port ~seconds:60.;
  s

let kill_sqld s =
  (try Unix.kill s.pid Sys.sigkill with Unix.Unix_error _ -> ());
  ignore (Unix.waitpid [] s.pid)

let url_of s = Printf.sprintf "http://127.0.0.1:%d" s.port

(* The server, started once for the whole suite. *)
let server = lazy (Option.map (fun bin -> url_of (start_sqld bin)) sqld_bin)

let skipped = "SKIPPED: the remote tests need sqld; set SQLD_BIN to its binary"

(* A suite that needs a server and has none: on a user's machine it says so
   and runs the rest; under CI (CI=true) the run fails, so that a missing
   server can never pass as green. *)
let missing ~server ~skipped what =
  if Sys.getenv_opt "CI" = Some "true" then begin
    Printf.eprintf "FAIL: CI=true and no %s: %s\n%!" server what;
    exit 1
  end
  else Printf.printf "%s (%s)\n%!" skipped what

let no_server = missing ~server:"sqld (set SQLD_BIN, or put it at ../shared/bin/sqld)" ~skipped

(* Removes an embedded replica's file and the files libsql keeps next to it. *)
let cleanup_replica path =
  List.iter (fun s -> try Sys.remove (path ^ s) with Sys_error _ -> ()) [ ""; "-wal"; "-shm"; "-info"; "-client_wal_index" ]
