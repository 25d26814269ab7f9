(* The email scheduler, blocking. Works unchanged on a local file, a remote
   database or an embedded replica: the mode is chosen when the Db.t is
   opened. *)

open Turso
open Turso.Syntax

let setup conn = Result.map ignore (Conn.execute conn Schedule.schema)

(* Thousands of schedules of one run in one transaction through one
   prepared statement: one call across the boundary (one request on a
   remote database or a replica). All or nothing: a duplicate (run, email)
   rejects the whole batch, and the error names the schedule. *)
let batch_insert_schedules conn (schedules : Schedule.t list) ~run_id =
  let* ins = Conn.prepare conn Schedule.insert_sql in
  let r = Stmt.execute_many ins (List.map (Schedule.to_values ~run_id) schedules) in
  Stmt.close ins;
  r

let due conn ~run_id ~now ~limit =
  Conn.query_map conn ~f:Schedule.row_of_row ~params:(Schedule.due_params ~run_id ~now ~limit) Schedule.due_sql

(* execute_many is all or nothing by itself (one transaction), and one
   request on a remote database: no with_transaction around it, which
   would make it one request per row remotely. *)
let mark_sent conn (rows : Schedule.row list) =
  let* upd = Conn.prepare conn Schedule.mark_sent_sql in
  let r = Stmt.execute_many upd (List.map (fun (r : Schedule.row) -> [ Value.int64 r.id ]) rows) in
  Stmt.close upd;
  r

let pending conn ~run_id =
  let* row =
    Conn.query_one conn "SELECT count(*) FROM email_schedules WHERE run_id = ? AND sent = 0"
      ~params:(`Positional [ Value.text run_id ])
  in
  match row with
  | Some r -> Decode.nth r 0 Decode.int
  | None -> Ok 0

(* Pulls other clients' changes on a replica; nothing to do elsewhere. *)
let sync db =
  match Db.sync db with
  | Ok info -> Ok (Some info)
  | Error { kind = `Misuse; _ } -> Ok None
  | Error e -> Error e
