(* The email_schedules table and its row type, shared by the blocking and
   the Lwt versions. *)

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

(* A schedule as the application builds it: no id and no run yet. *)
type t = { email : string; send_at : float; payload : string option } [@@deriving turso]

(* A schedule as it is read back. *)
type row = {
  id : int64;
  run_id : string;
  email : string;
  send_at : float;
  attempts : int;
  payload : string option;
  sent : bool;
}
[@@deriving turso]

let insert_sql = "INSERT INTO email_schedules (run_id, email, send_at, payload) VALUES (?, ?, ?, ?)"

(* Positional parameters in the order of insert_sql. *)
let to_values ~run_id (s : t) =
  Turso.Value.[ text run_id; text s.email; float s.send_at; option text s.payload ]

let due_sql =
  "SELECT id, run_id, email, send_at, attempts, payload, sent FROM email_schedules
   WHERE run_id = :run_id AND sent = 0 AND send_at <= :now ORDER BY send_at, id LIMIT :limit"

let due_params ~run_id ~now ~limit =
  `Named Turso.Value.[ ("run_id", text run_id); ("now", float now); ("limit", int limit) ]

let mark_sent_sql = "UPDATE email_schedules SET sent = 1, attempts = attempts + 1 WHERE id = ?"

(* [n] schedules of a run: half of them due already. *)
let make ~now n =
  List.init n (fun i ->
      {
        email = Printf.sprintf "user%05d@example.com" i;
        send_at = (now +. if i mod 2 = 0 then -60. else 3600.);
        payload = (if i mod 10 = 0 then None else Some (Printf.sprintf {|{"n":%d}|} i));
      })
