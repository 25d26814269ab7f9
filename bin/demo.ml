(* The demo: the email-scheduler use case on a local database file, no
   credentials needed.

   dune exec bin/demo.exe [PATH]      (default PATH: demo.db)

   It schedules 1,000 emails in one call, picks the due ones, marks them
   sent in a transaction, and shows what an error looks like. *)

open Turso
open Turso.Syntax

let now = Unix.gettimeofday

let schema =
  {|CREATE TABLE IF NOT EXISTS email_schedules (
      id       INTEGER PRIMARY KEY,
      run_id   TEXT NOT NULL,
      email    TEXT NOT NULL,
      send_at  REAL NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      payload  TEXT,
      sent     INTEGER NOT NULL DEFAULT 0,
      UNIQUE (run_id, email)
    )|}

let schedule conn ~run_id n =
  let* ins =
    Conn.prepare conn
      "INSERT INTO email_schedules (run_id, email, send_at, payload) VALUES (?, ?, ?, ?)"
  in
  let t0 = now () in
  let rows =
    List.init n (fun i ->
        Value.
          [ text run_id;
            text (Printf.sprintf "user%04d@example.com" i);
            (* half of them are due already *)
            float (t0 +. if i mod 2 = 0 then -60. else 3600.);
            option text (if i mod 10 = 0 then None else Some (Printf.sprintf {|{"n":%d}|} i)) ])
  in
  let* inserted = Stmt.execute_many ins rows in
  let dt = now () -. t0 in
  Stmt.close ins;
  Ok (inserted, dt)

let due conn ~run_id =
  Conn.query_list conn
    ~params:(`Named [ ("run_id", Value.text run_id); ("now", Value.float (now ())) ])
    "SELECT id, email, send_at FROM email_schedules
     WHERE run_id = :run_id AND sent = 0 AND send_at <= :now ORDER BY id"

let mark_sent conn ids =
  Conn.with_transaction ~behavior:`Immediate conn (fun conn ->
      let* upd = Conn.prepare conn "UPDATE email_schedules SET sent = 1, attempts = attempts + 1 WHERE id = ?" in
      let r = Stmt.execute_many upd (List.map (fun id -> [ id ]) ids) in
      Stmt.close upd;
      r)

let run path =
  let* db = Db.open_local path in
  let* conn = Conn.connect db in
  let* _ = Conn.execute conn schema in
  let run_id = Printf.sprintf "run-%d" (int_of_float (now () *. 1000.)) in
  Printf.printf "turso demo: local database %s\n\n" path;
  let* inserted, dt = schedule conn ~run_id 1000 in
  Printf.printf "scheduled %Ld emails in one batch: %.2f ms (the old copy/diff workflow took 10-30 s)\n"
    inserted (dt *. 1000.);
  let* rows = due conn ~run_id in
  Printf.printf "%d emails are due; the first three:\n" (List.length rows);
  List.iteri (fun i r -> if i < 3 then Format.printf "  %a@." Row.pp r) rows;
  let t0 = now () in
  let* marked = mark_sent conn (List.map (fun r -> Row.get r 0) rows) in
  Printf.printf "marked %Ld as sent in one transaction: %.2f ms\n" marked ((now () -. t0) *. 1000.);
  let* pending = Conn.query_one conn "SELECT count(*) FROM email_schedules WHERE sent = 0" in
  Option.iter (fun r -> Format.printf "still pending in the database: %a@." Value.pp (Row.get r 0)) pending;
  (* errors are values: a duplicate schedule is refused, nothing is lost *)
  (match
     Conn.execute conn
       ~params:(`Positional Value.[ text run_id; text "user0000@example.com"; float (now ()) ])
       "INSERT INTO email_schedules (run_id, email, send_at) VALUES (?, ?, ?)"
   with
   | Ok _ -> print_endline "unexpected: duplicate accepted"
   | Error e -> Printf.printf "a duplicate schedule is refused:\n  %s\n" (Error.to_string e));
  Conn.close conn;
  Db.close db;
  Ok ()

let () =
  let path = if Array.length Sys.argv > 1 then Sys.argv.(1) else "demo.db" in
  match run path with
  | Ok () -> ()
  | Error e ->
    prerr_endline ("turso demo: " ^ Error.to_string e);
    exit 1
