(* turso-ocaml: a command-line tool for any database the library opens.

   Which database: --db PATH (a local file), or --url URL [--auth-token T]
   [--replica PATH | --no-replica], or else the environment and .env file
   (TURSO_DATABASE_URL, TURSO_AUTH_TOKEN, TURSO_REPLICA_PATH), as
   Turso.Db.of_env reads them.

   Exit codes: 0 success; 1 an error (one line on stderr, "turso-ocaml:
   ..."; in the shell, the first failing statement of piped input); 2 doctor
   found a problem; 124 a bad command line, 125 a bug (cmdliner's). *)

open Turso
open Cmdliner

let now = Unix.gettimeofday

exception Failed of string
exception Exit_with of int
exception Failed_in_shell of Error.t

let fail fmt = Printf.ksprintf (fun s -> raise (Failed s)) fmt
let ok = function Ok x -> x | Error e -> raise (Failed (Error.to_string e))

(* ------------------------------------------------------------ options *)

type target = { db : string option; url : string option; token : string option; replica : string option;
                no_replica : bool; synced : string option; env_file : string; timeout : float }

let target =
  let db = Arg.(value & opt (some string) None & info [ "db" ] ~docv:"PATH" ~doc:"A local database file (or :memory:).") in
  let url =
    Arg.(value & opt (some string) None & info [ "url" ] ~docv:"URL"
           ~doc:"A remote database: libsql://, https:// or http://. Default: \\$TURSO_DATABASE_URL.")
  in
  let token =
    Arg.(value & opt (some string) None & info [ "auth-token" ] ~docv:"TOKEN"
           ~doc:"The auth token for --url. Default: \\$TURSO_AUTH_TOKEN. Never printed.")
  in
  let replica =
    Arg.(value & opt (some string) None & info [ "replica" ] ~docv:"PATH"
           ~doc:"With --url: the embedded replica's file (default: turso-replica.db).")
  in
  let no_replica = Arg.(value & flag & info [ "no-replica" ] ~doc:"With --url: use the remote database directly.") in
  let synced =
    Arg.(value & opt (some string) None & info [ "synced" ] ~docv:"PATH"
           ~doc:"With --url: a synced database (Turso engine, offline writes, push and pull) in this file, \
                 instead of an embedded replica. Default: \\$TURSO_SYNCED_PATH.")
  in
  let env_file =
    Arg.(value & opt string ".env" & info [ "env-file" ] ~docv:"FILE" ~doc:"Read variables from this file too.")
  in
  let timeout =
    Arg.(value & opt float 10. & info [ "timeout" ] ~docv:"SECONDS" ~doc:"Bound on every network request.")
  in
  let verbose =
    Arg.(value & flag_all & info [ "v"; "verbose" ]
           ~doc:"Report on stderr each sync and retry; twice ($(b,-vv)): each statement too, with its mode, \
                 duration and rows (parameter values are not shown).")
  in
  let make db url token replica no_replica synced env_file timeout verbose =
    (* Logs' own reporter on stderr: the tool's output stays on stdout *)
    if verbose <> [] then begin
      Logs.set_reporter (Logs.format_reporter ~app:Format.err_formatter ~dst:Format.err_formatter ());
      Logs.Src.set_level Trace.src (Some (if List.length verbose >= 2 then Logs.Debug else Logs.Info))
    end;
    { db; url; token; replica; no_replica; synced; env_file; timeout }
  in
  Term.(const make $ db $ url $ token $ replica $ no_replica $ synced $ env_file $ timeout $ verbose)

(* The flags choose the mode; the environment's variables for other modes
   are refused as Config.of_env refuses them (an encryption key with
   --synced would otherwise leave the file in the clear, unsaid). *)
let config t =
  let e = Config.env ~env_file:t.env_file () in
  let key = Config.var e "TURSO_ENCRYPTION_KEY" in
  let checked mode c = match Config.misplaced e mode with Some err -> Error err | None -> c () in
  match (t.db, t.url) with
  | Some p, _ -> checked `Local (fun () -> Ok (Config.local ?encryption_key:key p))
  | None, Some url -> (
    let auth_token =
      match t.token with
      | Some k -> k
      | None -> (
        match Config.of_env ~env_file:t.env_file () with
        | Ok (Config.Remote { auth_token; _ } | Config.Replica { auth_token; _ } | Config.Synced { auth_token; _ }) ->
          auth_token
        | _ -> Option.value (Sys.getenv_opt "TURSO_AUTH_TOKEN") ~default:"")
    in
    match (match t.synced with Some p -> Some p | None -> Config.var e "TURSO_SYNCED_PATH") with
    | Some path ->
      checked `Synced (fun () ->
          Result.map
            (fun (push_interval, pull_interval, auto_push) ->
              Config.synced ?push_interval ?pull_interval ~auto_push ~path ~url ~auth_token ())
            (Config.background e))
    | None when t.no_replica -> checked `Remote (fun () -> Ok (Config.Remote { url; auth_token }))
    | None ->
      checked `Replica (fun () ->
          Ok
            (Config.Replica
               { path = Option.value t.replica ~default:Config.default_replica_path; url; auth_token; encryption_key = key })))
  | None, None -> Config.of_env ~env_file:t.env_file ()

let with_conn t f =
  let db = ok (Db.open_config ~timeout:t.timeout (ok (config t))) in
  let conn = ok (Conn.connect db) in
  Fun.protect ~finally:(fun () -> Conn.close conn; Db.close db) (fun () -> f db conn)

(* ------------------------------------------------------------ printing *)

let cell = function
  | Value.Null -> "NULL"
  | Value.Text s -> s
  | v -> Value.to_string v

(* UTF-8 aware width, for alignment. *)
let width s =
  let n = ref 0 in
  String.iter (fun c -> if Char.code c land 0xc0 <> 0x80 then incr n) s;
  !n

let print_table columns rows =
  let rows = List.map (fun r -> Array.map cell (Row.values r)) rows in
  let w = Array.map width columns in
  List.iter (Array.iteri (fun i c -> w.(i) <- max w.(i) (width c))) rows;
  let line cells =
    print_string
      (String.concat " | " (Array.to_list (Array.mapi (fun i c -> c ^ String.make (w.(i) - width c) ' ') cells)));
    print_newline ()
  in
  line columns;
  print_endline (String.concat "-+-" (Array.to_list (Array.map (fun n -> String.make n '-') w)));
  List.iter line rows;
  Printf.printf "(%d row%s)\n" (List.length rows) (if List.length rows = 1 then "" else "s")

let json_string s =
  let b = Buffer.create (String.length s + 2) in
  Buffer.add_char b '"';
  String.iter
    (fun c ->
      match c with
      | '"' -> Buffer.add_string b "\\\""
      | '\\' -> Buffer.add_string b "\\\\"
      | '\n' -> Buffer.add_string b "\\n"
      | '\r' -> Buffer.add_string b "\\r"
      | '\t' -> Buffer.add_string b "\\t"
      | c when Char.code c < 0x20 -> Buffer.add_string b (Printf.sprintf "\\u%04x" (Char.code c))
      | c -> Buffer.add_char b c)
    s;
  Buffer.add_char b '"';
  Buffer.contents b

let json_value = function
  | Value.Null -> "null"
  | Value.Integer i -> Int64.to_string i
  | Value.Real f when Float.is_integer f && Float.abs f < 1e15 -> Printf.sprintf "%.1f" f
  | Value.Real f when Float.is_finite f -> Printf.sprintf "%.17g" f
  | Value.Real f -> json_string (Value.to_string (Value.Real f))
  | Value.Text s -> json_string s
  | Value.Blob b ->
    (* {"base64": ...} would need a decoder on the other side; hex is plain *)
    json_string (String.concat "" (List.init (String.length b) (fun i -> Printf.sprintf "%02x" (Char.code b.[i]))))

let print_json columns rows =
  print_string "[";
  List.iteri
    (fun i r ->
      if i > 0 then print_string ",";
      print_string "\n  {";
      Array.iteri
        (fun k v -> Printf.printf "%s%s: %s" (if k > 0 then ", " else "") (json_string columns.(k)) (json_value v))
        (Row.values r);
      print_string "}")
    rows;
  print_string (if rows = [] then "]\n" else "\n]\n")

let csv_field s =
  if String.exists (fun c -> c = ',' || c = '"' || c = '\n' || c = '\r') s then
    "\"" ^ String.concat "\"\"" (String.split_on_char '"' s) ^ "\""
  else s

let print_csv columns rows =
  let line cells = print_string (String.concat "," (List.map csv_field cells) ^ "\r\n") in
  line (Array.to_list columns);
  List.iter
    (fun r -> line (List.map (function Value.Null -> "" | v -> cell v) (Array.to_list (Row.values r))))
    rows

(* ------------------------------------------------------------ commands *)

(* What --help says about exit codes: ours, then cmdliner's. *)
let exits = Cmd.Exit.info 1 ~doc:"an error (one line on standard error)." :: Cmd.Exit.defaults

(* -p VALUE: NULL, a number as SQL writes it, or else text. OCaml's own
   number syntax (0x10, 0b11, 1_000, nan, infinity) is text here: a user
   of SQL means the characters. An integer too large for 64 bits is a
   real, as SQLite reads such a literal. *)
let sql_integer = Str.regexp "^[+-]?[0-9]+$"
let sql_real = Str.regexp "^[+-]?\\([0-9]+\\(\\.[0-9]*\\)?\\|\\.[0-9]+\\)\\([eE][+-]?[0-9]+\\)?$"

(* the whole text: Str's $ also matches before a newline *)
let whole re s = Str.string_match re s 0 && Str.match_end () = String.length s

let param_of_string s =
  if s = "NULL" || s = "null" then Value.Null
  else if whole sql_integer s then
    match Int64.of_string_opt s with Some i -> Value.Integer i | None -> Value.Real (float_of_string s)
  else if whole sql_real s then Value.Real (float_of_string s)
  else Value.Text s

let params_arg =
  Arg.(value & opt_all string [] & info [ "p"; "param" ] ~docv:"VALUE"
         ~doc:"A positional parameter (repeat for several): NULL, a number as SQL writes it (42, -5, 2.5, 1e3), or else text. A value that starts with '-' may follow -p directly: -p -5.")

let sql_arg = Arg.(required & pos 0 (some string) None & info [] ~docv:"SQL" ~doc:"One SQL statement.")

let params_of = function [] -> None | l -> Some (`Positional (List.map param_of_string l))

type format = Table | Json | Csv

let run_query t sql params format =
  with_conn t (fun _ conn ->
      let rs = ok (Conn.query ?params:(params_of params) conn sql) in
      let columns = Rows.columns rs in
      let rows = ok (Rows.to_list rs) in
      match format with Table -> print_table columns rows | Json -> print_json columns rows | Csv -> print_csv columns rows)

let query_cmd =
  let format =
    Arg.(value & vflag Table [ (Json, info [ "json" ] ~doc:"Print a JSON array of objects."); (Csv, info [ "csv" ] ~doc:"Print CSV (RFC 4180).") ])
  in
  Cmd.v (Cmd.info "query" ~exits ~doc:"Run a query and print its rows.")
    Term.(const run_query $ target $ sql_arg $ params_arg $ format)

let exec_cmd =
  let run t sql params =
    with_conn t (fun _ conn ->
        let n = ok (Conn.execute ?params:(params_of params) conn sql) in
        Printf.printf "%Ld row%s changed\n" n (if n = 1L then "" else "s"))
  in
  Cmd.v (Cmd.info "exec" ~exits ~doc:"Run a statement and print the rows it changed.") Term.(const run $ target $ sql_arg $ params_arg)

(* Statements as SQLite ends them: the library's own scanner. *)
module Sql = Turso.Private.Sql

(* The interactive prompt: statements end with ';' and may span lines;
   a statement is complete when SQLite would call it complete (so a
   CREATE TRIGGER's body, and ';' inside quotes or comments, do not end
   it). Errors go to standard error. At a terminal the prompt goes on after
   an error; with piped input the first error ends the run with exit code 1
   (as sqlite3 -bail), unless --keep-going. *)
let shell t keep_going =
  with_conn t (fun _ conn ->
      let tty = Unix.isatty Unix.stdin in
      if tty then print_endline "turso-ocaml shell: end statements with ';', .quit to leave, .tables to list tables";
      let prompt p = if tty then (print_string p; flush stdout) in
      let failed = ref false in
      let report e =
        Printf.eprintf "error: %s\n%!" (Error.to_string e);
        if not (tty || keep_going) then raise (Failed_in_shell e)
        else failed := true
      in
      let run_one sql =
        match Conn.query conn sql with
        | Error e -> report e
        | Ok rs -> (
          let columns = Rows.columns rs in
          match Rows.to_list rs with
          | Error e -> report e
          | Ok rows when Array.length columns > 0 -> print_table columns rows; flush stdout
          | Ok _ ->
            let n = match Conn.changes conn with Ok n -> n | Error _ -> 0L in
            Printf.printf "ok (%Ld row%s changed)\n%!" n (if n = 1L then "" else "s"))
      in
      let run_text text = List.iter (fun s -> if String.trim s <> "" then run_one s) (Sql.split text) in
      let buf = Buffer.create 256 in
      let rec loop () =
        prompt (if Buffer.length buf = 0 then "turso> " else "   ...> ");
        match input_line stdin with
        | exception End_of_file -> if String.trim (Buffer.contents buf) <> "" then run_text (Buffer.contents buf)
        | line -> (
          let trimmed = String.trim line in
          match trimmed with
          | (".quit" | ".exit") when Buffer.length buf = 0 -> ()
          | ".tables" when Buffer.length buf = 0 ->
            run_one "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
            loop ()
          | _ ->
            Buffer.add_string buf line;
            Buffer.add_char buf '\n';
            let text = Buffer.contents buf in
            if String.trim text = "" then Buffer.clear buf
            else if Sql.is_complete text then begin
              Buffer.clear buf;
              (* "a; b;" on one line runs both, one after the other *)
              run_text text
            end;
            loop ())
      in
      (try loop () with Failed_in_shell _ -> raise (Exit_with 1));
      (* with --keep-going, piped input that had an error still says so *)
      if !failed && not tty then raise (Exit_with 1))

let shell_cmd =
  let keep_going =
    Arg.(value & flag & info [ "keep-going" ]
           ~doc:"With piped input, go on after a failing statement (and still exit with 1 at the end). Without it, the first error ends the run.")
  in
  Cmd.v (Cmd.info "shell" ~exits ~doc:"An interactive SQL prompt; or run the statements piped to it.")
    Term.(const shell $ target $ keep_going)

let sync_cmd =
  let run t =
    with_conn t (fun db _ ->
        (* opening a replica already synced it: say what that brought too,
           or a first sync would always look like "0 frames" *)
        let at_open = ok (Db.stats db) in
        let t0 = now () in
        let i = ok (Db.sync db) in
        if at_open.Stats.syncs > 0 then
          Printf.printf "opening synced %Ld frame%s\n" at_open.frames_synced (if at_open.frames_synced = 1L then "" else "s");
        Printf.printf "synced in %.1f ms: %d frame%s applied, now at frame %s\n" ((now () -. t0) *. 1000.) i.Db.frames_synced
          (if i.Db.frames_synced = 1 then "" else "s")
          (match i.Db.frame_no with Some f -> Int64.to_string f | None -> "none"))
  in
  Cmd.v (Cmd.info "sync" ~exits ~doc:"Sync an embedded replica with its primary and say what it did.") Term.(const run $ target)

(* A synced database's own operations: what each did, one line. *)
let push_cmd =
  let run t =
    with_conn t (fun db _ ->
        let t0 = now () in
        let n = ok (Db.push db) in
        Printf.printf "pushed %d local change%s in %.1f ms\n" n (if n = 1 then "" else "s") ((now () -. t0) *. 1000.))
  in
  Cmd.v (Cmd.info "push" ~exits ~doc:"Send a synced database's local changes to the server.") Term.(const run $ target)

let pull_cmd =
  let run t =
    with_conn t (fun db _ ->
        let t0 = now () in
        let changed = ok (Db.pull db) in
        Printf.printf "%s in %.1f ms\n" (if changed then "pulled changes" else "nothing new") ((now () -. t0) *. 1000.))
  in
  Cmd.v (Cmd.info "pull" ~exits ~doc:"Bring the server's changes into a synced database.") Term.(const run $ target)

let stats_cmd =
  let run t = with_conn t (fun db _ -> Format.printf "%a@." Stats.pp (ok (Db.stats db))) in
  Cmd.v (Cmd.info "stats" ~exits ~doc:"Print the database's statistics (mode, statements, syncs, frames).") Term.(const run $ target)

(* "migrate" applies a directory's migrations; "migrate status" says
   where the database stands, changing nothing. *)
let migrate_cmd =
  let action =
    Arg.(value & pos 0 (enum [ ("run", `Run); ("status", `Status) ]) `Run & info [] ~docv:"ACTION"
           ~doc:"$(b,run) (the default) applies the migrations not applied yet; $(b,status) lists them.")
  in
  let dir =
    Arg.(value & opt string "migrations" & info [ "dir" ] ~docv:"DIR"
           ~doc:"The directory of migration files NNNN_name.sql.")
  in
  let run t action dir =
    let ms = ok (Migration.of_dir dir) in
    with_conn t (fun _ conn ->
        match action with
        | `Status ->
          let st = ok (Migrate.status conn ms) in
          Printf.printf "at version %s\n" (match st.current with Some v -> string_of_int v | None -> "none (nothing applied)");
          List.iter
            (fun (a : Migrate.applied) ->
              Printf.printf "  applied  %04d_%s  %s\n" a.version a.name
                (let tm = Unix.gmtime a.applied_at in
                 Printf.sprintf "%04d-%02d-%02d %02d:%02d:%02d UTC" (tm.tm_year + 1900) (tm.tm_mon + 1) tm.tm_mday tm.tm_hour
                   tm.tm_min tm.tm_sec))
            st.applied;
          List.iter (fun m -> Printf.printf "  pending  %s\n" (Migration.label m)) st.pending
        | `Run ->
          let t0 = now () in
          (match ok (Migrate.run conn ms) with
           | [] -> print_endline "up to date: nothing to apply"
           | l ->
             List.iter (fun m -> Printf.printf "applied %s\n" (Migration.label m)) l;
             Printf.printf "%d migration%s in %.1f ms\n" (List.length l) (if List.length l = 1 then "" else "s")
               ((now () -. t0) *. 1000.)))
  in
  Cmd.v
    (Cmd.info "migrate" ~exits ~doc:"Apply the migrations of a directory (NNNN_name.sql), or list where the database stands.")
    Term.(const run $ target $ action $ dir)

(* ------------------------------------------------------------ doctor *)

let doctor t =
  let problems = ref 0 in
  let say status fmt = Printf.ksprintf (fun s -> Printf.printf "[%s] %s\n%!" status s) fmt in
  let bad fmt = incr problems; say "problem" fmt in
  let dir = Filename.current_dir_name in
  (* configuration *)
  let config = config t in
  (match config with
   | Ok c -> say "ok" "configuration: %s" (Config.to_string c)
   | Error e -> bad "configuration: %s" e.Error.message);
  (match config with
   | Ok (Config.Remote { auth_token = ""; _ } | Config.Replica { auth_token = ""; _ } | Config.Synced { auth_token = ""; _ }) ->
     say "note" "no auth token: fine for a local sqld, Turso needs TURSO_AUTH_TOKEN"
   | _ -> ());
  (* workflow *)
  let legacy = Compat.find_legacy_files ~dir () in
  let mode =
    match config with
    | Ok (Config.Replica _ | Config.Synced _) -> "ffi"
    | _ -> Compat.detect_workflow_mode ~dir ~env_file:t.env_file ()
  in
  (match mode with
   | "ffi" -> say "ok" "workflow: ffi (an embedded replica, synced by the library)"
   | "legacy" ->
     bad "workflow: legacy: the old copy/diff/apply files are here (%s); see \"Migrating from the copy/diff/apply workflow\" in the README"
       (String.concat ", " legacy)
   | m -> say "note" "workflow: %s (no replica configured, no old workflow files)" m);
  if mode = "ffi" && legacy <> [] then
    say "note" "old workflow files are still here (%s): delete them once nothing uses them" (String.concat ", " legacy);
  (* server *)
  (match config with
   | Ok (Config.Remote { url; auth_token } | Config.Replica { url; auth_token; _ }) -> (
     let t0 = now () in
     let r =
       Result.bind (Db.open_remote ~timeout:(Float.min t.timeout 5.) ~url ~auth_token ()) (fun db ->
           Fun.protect ~finally:(fun () -> Db.close db) (fun () ->
               Result.bind (Conn.connect db) (fun c ->
                   Fun.protect ~finally:(fun () -> Conn.close c) (fun () -> Conn.query_one c "SELECT 1"))))
     in
     match r with
     | Ok _ -> say "ok" "server: %s answers (%.0f ms)" (Config.redact_url url) ((now () -. t0) *. 1000.)
     | Error e when e.kind = `Auth -> bad "server: %s refuses the auth token (%s)" (Config.redact_url url) e.message
     | Error e -> bad "server: %s cannot be reached: %s" (Config.redact_url url) (Error.to_string e))
   | _ -> ());
  (* files *)
  let check_file ?encryption_key what path =
    if not (Sys.file_exists path) then say "note" "%s: %s does not exist yet (it is created on first use)" what path
    else
      match Db.open_local ~mode:`Read_only ?encryption_key path with
      | Error e -> bad "%s: %s cannot be opened: %s" what path (Error.to_string e)
      | Ok db ->
        let r = Result.bind (Conn.connect db) (fun c -> Conn.query_one c "PRAGMA quick_check") in
        Db.close db;
        (match r with
         | Ok (Some row) when Row.get row 0 = Value.Text "ok" -> say "ok" "%s: %s is healthy (quick_check)" what path
         | Ok (Some row) -> bad "%s: %s is damaged: %s" what path (cell (Row.get row 0))
         | Ok None -> bad "%s: %s: no answer from quick_check" what path
         | Error e -> bad "%s: %s cannot be read: %s" what path (Error.to_string e))
  in
  let check_synced ~path ~url ~auth_token =
    if not (Sys.file_exists path) then
      say "note" "synced file: %s does not exist yet (the first open downloads it from %s)" path url
    else
      match Db.open_synced ~timeout:(Float.min t.timeout 5.) ~path ~url ~auth_token () with
      | Error e -> bad "synced file: %s cannot be opened: %s" path (Error.to_string e)
      | Ok db ->
        let r = Result.bind (Conn.connect db) (fun c -> Conn.query_one c "PRAGMA quick_check") in
        let st = Db.stats db in
        Db.close db;
        (match r with
         | Ok (Some row) when Row.get row 0 = Value.Text "ok" -> say "ok" "synced file: %s is healthy (quick_check)" path
         | Ok (Some row) -> bad "synced file: %s is damaged: %s" path (cell (Row.get row 0))
         | Ok None -> bad "synced file: %s: no answer from quick_check" path
         | Error e -> bad "synced file: %s cannot be read: %s" path (Error.to_string e));
        (match st with
         | Ok { Stats.synced = Some y; _ } ->
           say "note" "synced file: %Ld local change%s not pushed yet" y.pending_changes
             (if y.pending_changes = 1L then "" else "s")
         | _ -> ())
  in
  (match config with
   | Ok (Config.Replica { path; encryption_key; _ }) -> check_file ?encryption_key "replica file" path
   | Ok (Config.Synced { path; url; auth_token; _ }) -> check_synced ~path ~url ~auth_token
   | Ok (Config.Local { path; encryption_key }) when path <> ":memory:" && not (String.length path > 5 && String.sub path 0 5 = "file:") ->
     check_file ?encryption_key "database file" path
   | _ -> ());
  if !problems = 0 then print_endline "all good"
  else begin
    Printf.printf "%d problem%s found\n" !problems (if !problems = 1 then "" else "s");
    raise (Exit_with 2)
  end

let doctor_cmd =
  Cmd.v
    (Cmd.info "doctor" ~doc:"Check the setup: configuration, server, replica file, workflow mode."
       ~exits:(Cmd.Exit.info 2 ~doc:"a problem was found." :: exits))
    Term.(const doctor $ target)

(* ------------------------------------------------------------ bench *)

let bench t inserts reads =
  with_conn t (fun db conn ->
      let pct l p = let a = Array.of_list l in Array.sort compare a; a.(min (Array.length a - 1) (int_of_float (float (Array.length a) *. p))) in
      let progress what i n = if Unix.isatty Unix.stderr then Printf.eprintf "\r%s %d/%d%!" what i n in
      let done_ () = if Unix.isatty Unix.stderr then Printf.eprintf "\r\027[K%!" in
      let table = "turso_ocaml_bench" in
      ignore (ok (Conn.execute conn ("DROP TABLE IF EXISTS " ^ table)));
      ignore (ok (Conn.execute conn (Printf.sprintf "CREATE TABLE %s (id INTEGER PRIMARY KEY, email TEXT, send_at REAL)" table)));
      Fun.protect ~finally:(fun () -> ignore (Conn.execute conn ("DROP TABLE IF EXISTS " ^ table))) (fun () ->
          let ins = ok (Conn.prepare conn (Printf.sprintf "INSERT INTO %s VALUES (?, ?, ?)" table)) in
          let id = ref 0 in
          let row () = incr id; Value.[ int !id; text (Printf.sprintf "user%d@example.com" !id); float (now ()) ] in
          let single =
            List.init inserts (fun i ->
                progress "single-row inserts" (i + 1) inserts;
                let p = row () in
                let t0 = now () in
                ignore (ok (Stmt.execute ins ~params:(`Positional p)));
                now () -. t0)
          in
          done_ ();
          let batches =
            List.init 3 (fun i ->
                progress "1,000-row batches" (i + 1) 3;
                let sets = List.init 1000 (fun _ -> row ()) in
                let t0 = now () in
                ignore (ok (Stmt.execute_many ins sets));
                now () -. t0)
          in
          done_ ();
          let sel = ok (Conn.prepare conn (Printf.sprintf "SELECT email FROM %s WHERE id = ?" table)) in
          let lat =
            List.init reads (fun i ->
                progress "point reads" (i + 1) reads;
                let key = (i * 7919) mod !id + 1 in
                let t0 = now () in
                ignore (ok (Stmt.query_one sel ~params:(`Positional [ Value.int key ])));
                now () -. t0)
          in
          done_ ();
          let ms x = x *. 1000. in
          let st = ok (Db.stats db) in
          Printf.printf "turso-ocaml bench on %s (%s)\n\n" (Stats.mode_to_string st.Stats.mode)
            (match config t with Ok c -> Config.to_string c | Error _ -> "?");
          Printf.printf "| operation | this setup | old copy/diff/apply workflow |\n|---|---:|---:|\n";
          Printf.printf "| single-row insert, median (%d runs) | %.2f ms | 2-5 s |\n" inserts (ms (pct single 0.5));
          Printf.printf "| single-row insert, p99 | %.2f ms | |\n" (ms (pct single 0.99));
          Printf.printf "| 1,000-row batch insert, median (3 runs) | %.1f ms | 10-30 s |\n" (ms (pct batches 0.5));
          Printf.printf "| point read, median (%d runs) | %.3f ms | |\n" reads (ms (pct lat 0.5));
          Printf.printf "| point read, p99 | %.3f ms | |\n" (ms (pct lat 0.99))))

let bench_cmd =
  let inserts = Arg.(value & opt int 100 & info [ "inserts" ] ~docv:"N" ~doc:"Single-row inserts to time.") in
  let reads = Arg.(value & opt int 500 & info [ "reads" ] ~docv:"N" ~doc:"Point reads to time.") in
  Cmd.v
    (Cmd.info "bench" ~exits
       ~doc:"Time single-row inserts, 1,000-row batches and point reads on the configured database, next to the old workflow's figures. Uses (and drops) a table named turso_ocaml_bench.")
    Term.(const bench $ target $ inserts $ reads)

(* ------------------------------------------------------------ main *)

let () =
  let info =
    Cmd.info "turso-ocaml" ~version:"0.1.0" ~exits
      ~doc:"Query, sync and check libSQL and Turso databases (a local file, remote, or an embedded replica)."
  in
  let cmd =
    Cmd.group info [ query_cmd; exec_cmd; shell_cmd; sync_cmd; push_cmd; pull_cmd; stats_cmd; migrate_cmd; doctor_cmd; bench_cmd ]
  in
  (* errors are one line and exit 1; doctor's problems exit 2 *)
  (* "-p -5": cmdliner would read -5 as an option; "--param=-5" is what
     the user meant *)
  let argv =
    let rec go = function
      | "--" :: rest -> "--" :: rest
      | ("-p" | "--param") :: v :: rest -> ("--param=" ^ v) :: go rest
      | x :: rest -> x :: go rest
      | [] -> []
    in
    Array.of_list (go (Array.to_list Sys.argv))
  in
  let wrap () =
    match Cmd.eval_value ~catch:false ~argv cmd with
    | Ok (`Ok ()) | Ok `Version | Ok `Help -> 0
    | Error (`Parse | `Term) -> Cmd.Exit.cli_error
    | Error `Exn -> Cmd.Exit.internal_error
  in
  exit (try wrap () with Failed msg -> prerr_endline ("turso-ocaml: " ^ msg); 1 | Exit_with n -> n)
