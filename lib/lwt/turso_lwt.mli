(** The Lwt API: the operations of {!Turso}, returning promises.

    Same modules, same functions, same errors: a program switches between
    the two by changing [Turso] to [Turso_lwt] (and binding the promises).
    The work does not block the Lwt event loop: it runs on the library's own
    worker threads (a tokio runtime in the Rust stub; no OCaml thread per
    call), each connection's operations in the order they were issued, and
    the promise is resolved from the event loop when the work is done. One
    exception, bounded: a one-row read of a prepared statement
    ([Stmt.query_one], [Query.one], [Query.opt]) on a local connection with
    nothing queued is first tried on the loop's thread, never waiting for a
    lock (no busy wait) and within a budget of 2,000 SQLite VM steps; past
    that it is handed to a worker. A loop of such calls, with whatever
    the program does between them, still gives the event loop a turn about
    every millisecond (counted from the first such call after a turn). A
    page read from a cold disk is the one wait it cannot bound. (See the README's Lwt section.)

    {b Cancellation.} [Lwt.cancel] on a pending promise is safe: an
    operation that has not started is dropped; one that has started runs to
    its end and its result is dropped (a statement is atomic, so a cancelled
    write is either whole or absent; inside {!Conn.with_transaction} the
    cancellation rolls the transaction back). The connection stays usable.

    {[
      let main () =
        let open Lwt.Syntax in
        let* db = Turso_lwt.Db.open_local "app.db" in
        let db = Turso_lwt.ok_exn db in
        let* conn = Turso_lwt.Conn.connect db in
        let conn = Turso_lwt.ok_exn conn in
        let* rows = Turso_lwt.Conn.query_list conn "SELECT 1" in
        ...
    ]} *)

module Value = Turso.Value
module Error = Turso.Error
module Row = Turso.Row
module Decode = Turso.Decode
module Encode = Turso.Encode
module Stats = Turso.Stats
module Config = Turso.Config
module Result_set = Turso.Result_set
module Vector = Turso.Vector
module Trace = Turso.Trace
module Migration = Turso.Migration
module Shape = Turso.Shape

type params = Turso.params

val ok_exn : ('a, Error.t) result -> 'a
(** As {!Turso.ok_exn}. *)

include Turso.S with type 'a io = 'a Lwt.t

val rows_seq : Rows.t -> (Row.t, Error.t) result Lwt_seq.t
(** The rows of a result set as a lazy sequence, fetched a chunk at a time;
    an error ends the sequence after being produced. *)

(**/**)

module Private : sig
  val pending : unit -> int
  (** Requests waiting for their completion (tests only). *)

  val test_panic : unit -> (unit, Error.t) result Lwt.t
  (** Triggers a Rust panic in a worker (tests only). *)
end
