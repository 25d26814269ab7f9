(* The email scheduler, blocking. Works unchanged on a local file, a remote
   database or an embedded replica: the mode is chosen when the Db.t is
   opened. *)

open Turso
open Turso.Syntax

(* Applies the migrations the queries were checked against (embedded by
   [%%migrations] in schedule.ml), those the database does not have yet. *)
let setup conn = Result.map ignore (Migrate.run conn Schedule.migrations)

(* Thousands of schedules of one run in one transaction through one
   prepared statement: one call across the boundary (one request on a
   remote database or a replica). All or nothing: a duplicate (run, email)
   rejects the whole batch, and the error names the schedule. *)
let batch_insert_schedules conn (schedules : Schedule.t list) ~run_id =
  let* ins = Conn.prepare conn Schedule.insert_sql in
  let r = Stmt.execute_many ins (List.map (Schedule.to_values ~run_id) schedules) in
  Stmt.close ins;
  r

(* A checked query: typed parameters, typed rows. *)
let due conn ~run_id ~now ~limit = Query.list conn (Schedule.due ~run_id ~now ~limit)

(* execute_many is all or nothing by itself (one transaction), and one
   request on a remote database: no with_transaction around it, which
   would make it one request per row remotely. *)
let mark_sent conn (rows : Schedule.row list) =
  let* upd = Conn.prepare conn Schedule.mark_sent_sql in
  let r = Stmt.execute_many upd (List.map (fun (r : Schedule.row) -> [ Value.int r.id ]) rows) in
  Stmt.close upd;
  r

let pending conn ~run_id = Query.one conn (Schedule.pending ~run_id)

(* Pulls other clients' changes on a replica; nothing to do elsewhere. *)
let sync db =
  match Db.sync db with
  | Ok info -> Ok (Some info)
  | Error { kind = `Misuse; _ } -> Ok None
  | Error e -> Error e
