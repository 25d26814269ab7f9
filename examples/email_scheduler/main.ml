(* Runs the example: email_scheduler.exe [--lwt] [--count N] [PATH]

   With PATH: a local database file. Without: the database the environment
   names (TURSO_DATABASE_URL, ...: an embedded replica for a remote URL),
   or ./email_scheduler.db when nothing is configured. *)

let now = Unix.gettimeofday

let config path =
  match path with
  | Some p -> Turso.Config.local p
  | None -> (
    match Turso.Config.of_env () with Ok c -> c | Error _ -> Turso.Config.local "email_scheduler.db")

let fail e = prerr_endline ("email_scheduler: " ^ Turso.Error.to_string e); exit 1
let ok = function Ok x -> x | Error e -> fail e

let blocking db ~count =
  let module E = Email_scheduler in
  let conn = ok (Turso.Conn.connect db) in
  ok (E.setup conn);
  let run_id = Printf.sprintf "run-%.0f" (now () *. 1000.) in
  let t0 = now () in
  let n = ok (E.batch_insert_schedules conn (Schedule.make ~now:t0 count) ~run_id) in
  Printf.printf "blocking: scheduled %Ld emails in one transaction (%.1f ms)\n" n ((now () -. t0) *. 1000.);
  let due = ok (E.due conn ~run_id ~now:(now ()) ~limit:count) in
  Printf.printf "blocking: %d due, e.g. %s\n" (List.length due)
    (match due with r :: _ -> r.Schedule.email | [] -> "-");
  let t0 = now () in
  let marked = ok (E.mark_sent conn due) in
  Printf.printf "blocking: marked %Ld sent (%.1f ms); %d still pending\n" marked ((now () -. t0) *. 1000.)
    (ok (E.pending conn ~run_id));
  (match ok (E.sync db) with
   | Some i -> Printf.printf "blocking: synced, %d frames\n" i.Turso.Db.frames_synced
   | None -> ());
  Turso.Conn.close conn

let lwt config ~count =
  let open Lwt.Syntax in
  let module E = Email_scheduler_lwt in
  let okl p = Lwt.map ok p in
  Lwt_main.run
    (let* db = okl (Turso_lwt.Db.open_config config) in
     let* conn = okl (Turso_lwt.Conn.connect db) in
     let* () = okl (E.setup conn) in
     let run_id = Printf.sprintf "lwt-run-%.0f" (now () *. 1000.) in
     let* n = okl (E.batch_insert_schedules conn (Schedule.make ~now:(now ()) count) ~run_id) in
     Printf.printf "lwt: scheduled %Ld emails\n" n;
     let* due = okl (E.due conn ~run_id ~now:(now ()) ~limit:count) in
     let* marked = okl (E.mark_sent conn due) in
     Printf.printf "lwt: %d due, marked %Ld sent\n" (List.length due) marked;
     let* () = Turso_lwt.Conn.close conn in
     Turso_lwt.Db.close db)

let () =
  let rec args lwt count path = function
    | "--lwt" :: r -> args true count path r
    | "--count" :: n :: r -> args lwt (int_of_string n) path r
    | p :: r -> args lwt count (Some p) r
    | [] -> (lwt, count, path)
  in
  let use_lwt, count, path = args false 2000 None (List.tl (Array.to_list Sys.argv)) in
  let config = config path in
  Format.printf "email_scheduler: %a@." Turso.Config.pp config;
  let db = ok (Turso.Db.open_config config) in
  blocking db ~count;
  Turso.Db.close db;
  if use_lwt then lwt config ~count
