(* The email_schedules table (migrations/), its row types and its queries,
   shared by the blocking and the Lwt versions. The queries are checked at
   compile time against the schema the migrations build: a misspelt column
   or a wrong type is a compile error here, not a failure in production. *)

(* The migrations, embedded at compile time (Migrate.run applies them),
   and the schema the queries below are checked against. *)
let migrations = [%migrations "migrations"]

(* A schedule as the application builds it: no id and no run yet. *)
type t = { email : string; send_at : float; payload : string option } [@@deriving turso]

(* A schedule as it is read back. *)
type row = {
  id : int;
  run_id : string;
  email : string;
  send_at : float;
  attempts : int;
  payload : string option;
  sent : bool;
}

let%query due : row =
  {sql|SELECT id, run_id, email, send_at, attempts, payload, sent FROM email_schedules
       WHERE run_id = :run_id AND sent = 0 AND send_at <= :now ORDER BY send_at, id LIMIT :limit|sql}

let%query pending : int = "SELECT count(*) FROM email_schedules WHERE run_id = :run_id AND sent = 0"

(* Many rows in one call go through Stmt.execute_many, which takes
   positional values: the statement, and the values in its order. *)
let insert_sql = "INSERT INTO email_schedules (run_id, email, send_at, payload) VALUES (?, ?, ?, ?)"

let to_values ~run_id (s : t) =
  Turso.Value.[ text run_id; text s.email; float s.send_at; option text s.payload ]

let mark_sent_sql = "UPDATE email_schedules SET sent = 1, attempts = attempts + 1 WHERE id = ?"

(* [n] schedules of a run: half of them due already. *)
let make ~now n =
  List.init n (fun i ->
      {
        email = Printf.sprintf "user%05d@example.com" i;
        send_at = (now +. if i mod 2 = 0 then -60. else 3600.);
        payload = (if i mod 10 = 0 then None else Some (Printf.sprintf {|{"n":%d}|} i));
      })
