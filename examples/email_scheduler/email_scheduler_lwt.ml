(* The same scheduler with turso.lwt: the same calls, returning promises. *)

open Turso_lwt

let ( let* ) p f = Lwt.bind p (function Ok x -> f x | Error e -> Lwt.return (Error e))

let setup conn = Lwt.map (Result.map ignore) (Migrate.run conn Schedule.migrations)

let batch_insert_schedules conn (schedules : Schedule.t list) ~run_id =
  let* ins = Conn.prepare conn Schedule.insert_sql in
  Lwt.bind (Stmt.execute_many ins (List.map (Schedule.to_values ~run_id) schedules)) (fun r ->
      Lwt.map (fun () -> r) (Stmt.close ins))

let due conn ~run_id ~now ~limit = Query.list conn (Schedule.due ~run_id ~now ~limit)

let mark_sent conn (rows : Schedule.row list) =
  let* upd = Conn.prepare conn Schedule.mark_sent_sql in
  Lwt.bind (Stmt.execute_many upd (List.map (fun (r : Schedule.row) -> [ Turso.Value.int r.id ]) rows))
    (fun r -> Lwt.map (fun () -> r) (Stmt.close upd))
