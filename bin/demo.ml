(* The demo: the email-scheduler example (examples/email_scheduler) from
   start to end.

   dune exec bin/demo.exe [PATH]

   With no credentials it uses a local database file (PATH, default
   demo.db). With TURSO_DATABASE_URL set (in the environment or .env) it
   runs the same against that database: an embedded replica of it, unless
   TURSO_REPLICA_PATH=none, or a synced database (Turso engine, offline
   writes) with TURSO_SYNCED_PATH=FILE. *)

open Turso
open Turso.Syntax
module E = Email_scheduler

let now = Unix.gettimeofday

let run config =
  Format.printf "turso demo: %a@.@." Config.pp config;
  let* db = Db.open_config config in
  let* conn = Conn.connect db in
  let* () = E.setup conn in
  let run_id = Printf.sprintf "run-%.0f" (now () *. 1000.) in
  let t0 = now () in
  let* inserted = E.batch_insert_schedules conn (Schedule.make ~now:t0 1000) ~run_id in
  Printf.printf "scheduled %Ld emails in one batch: %.2f ms (the old copy/diff workflow took 10-30 s)\n"
    inserted ((now () -. t0) *. 1000.);
  let* due = E.due conn ~run_id ~now:(now ()) ~limit:1000 in
  Printf.printf "%d emails are due; the first three:\n" (List.length due);
  List.iteri
    (fun i (r : Schedule.row) ->
      if i < 3 then Printf.printf "  #%d %s at %.0f, payload %s\n" r.id r.email r.send_at (Option.value r.payload ~default:"NULL"))
    due;
  let t0 = now () in
  let* marked = E.mark_sent conn due in
  Printf.printf "marked %Ld as sent in one batch: %.2f ms\n" marked ((now () -. t0) *. 1000.);
  let* pending = E.pending conn ~run_id in
  Printf.printf "still pending in this run: %d\n" pending;
  (* errors are values: a duplicate schedule is refused, nothing is lost *)
  (match E.batch_insert_schedules conn [ { Schedule.email = "user00000@example.com"; send_at = now (); payload = None } ] ~run_id with
   | Ok _ -> print_endline "unexpected: duplicate accepted"
   | Error e -> Printf.printf "a duplicate schedule is refused:\n  %s\n" (Error.to_string e));
  let* synced = E.sync db in
  (match synced, config with
   | Some i, Config.Synced _ -> Printf.printf "synced with the server (pull, then push): %d changes\n" i.Db.frames_synced
   | Some i, _ -> Printf.printf "synced with the primary: %d frames\n" i.Db.frames_synced
   | None, _ -> ());
  let* st = Db.stats db in
  Printf.printf "statements run: %Ld\n" st.Stats.statements;
  Conn.close conn;
  Db.close db;
  Ok ()

let () =
  let config =
    if Array.length Sys.argv > 1 then Config.local Sys.argv.(1)
    else match Config.of_env () with Ok c -> c | Error _ -> Config.local "demo.db"
  in
  match run config with
  | Ok () -> ()
  | Error e ->
    prerr_endline ("turso demo: " ^ Error.to_string e);
    exit 1
