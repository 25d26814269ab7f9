(** Typed access to libSQL and Turso databases.

    The blocking API. Every operation that can fail returns
    [(_, Error.t) result]; {!ok_exn} turns a result into a value or an
    {!Error.E} exception for scripts.

    {[
      let open Turso in
      let db = ok_exn (Db.open_local "app.db") in
      let conn = ok_exn (Conn.connect db) in
      ignore (ok_exn (Conn.execute conn "CREATE TABLE IF NOT EXISTS t (x INTEGER)"));
      ignore (ok_exn (Conn.execute conn "INSERT INTO t VALUES (?)"
                        ~params:(`Positional [ Value.Integer 42L ])));
      let rows = ok_exn (Conn.query_list conn "SELECT x FROM t") in
      List.iter (fun r -> Format.printf "%a@." Row.pp r) rows;
      Conn.close conn;
      Db.close db
    ]}

    {b Threads.} While a call waits on SQLite, the OCaml runtime lock is
    released, so other OCaml threads run. A connection may be used from
    several threads: its calls are serialised. For parallel work, give each
    thread its own connection.

    {b fork().} The library's threads and connections do not survive a
    fork: in the child of a process that has opened a database, every call
    (blocking or Lwt) is a [`Misuse] error that says so, never a crash or
    a hang. Fork before opening any database, or exec a new program. *)

(* This file is the library's front door and nothing else: each concept
   lives in its own module (value.mli, error.mli, row.mli, decode.mli,
   encode.mli, params.mli, result_set.mli, config.mli, stats.mli), the
   operations' signature in api_intf.mli, and their one implementation in
   api.ml (blocking.ml instantiates it). Compat alone is written here: it
   is a thin layer over the blocking API, and its types are this module's
   own. *)

(** {1 Values} *)

module Value = Value

(** {1 Errors} *)

module Error = Error

val ok_exn : ('a, Error.t) result -> 'a
(** [ok_exn (Ok x) = x]; [ok_exn (Error e)] raises [Error.E e]. *)

module Params = Params

type params = Params.t
(** Statement parameters: {!Params.t}. *)

(** {1 Rows} *)

module Row = Row

(** {1 Typed decoding} *)

module Decode = Decode
module Encode = Encode

module Vector = Vector
(** libSQL's vectors ([F32_BLOB], [F64_BLOB]) as float arrays. *)

(** {1 Tracing} *)

module Trace = Trace
(** Statements, syncs and retries reported through [Logs]. *)

(** {1 Migrations} *)

module Migration = Migration
(** Migrations as data ({!Migrate} applies them). *)

module Shape = Shape
(** A statement's parameters and columns ({!Conn.describe}). *)

(** {1 Databases, connections, statements} *)

module Result_set = Result_set
module Config = Config
module Stats = Stats

(** The operations, for any fiber. [Turso] has them with ['a io = 'a] (they
    block the calling thread, with the runtime lock released); [Turso_lwt]
    (library [turso.lwt]) with ['a io = 'a Lwt.t]. Code switches between
    the two by changing a module name. *)
module type S = Api_intf.S

include S with type 'a io = 'a

(** {1 Migrating from the old integration module} *)

module Compat : sig
  (** The names of the old copy/diff/apply integration module, on top of
      the API above, so that an application can move over one call at a
      time. A migration aid: new code should use {!Db} and {!Conn}
      directly (typed rows, prepared statements, Lwt). Blocking only. *)

  type connection = { db : Db.t; conn : Conn.t }

  val get_connection : ?env_file:string -> unit -> (connection, Error.t) result
  (** The process's connection: opened from the environment on the first
      call ({!Db.of_env}: an embedded replica when [TURSO_DATABASE_URL] is
      remote), the same one on later calls, until {!close_connection}. *)

  val close_connection : connection -> unit
  (** Closes the connection and its database. *)

  val execute_sql_safe : connection -> ?params:params -> string -> (Row.t list, Error.t) result
  (** {!Conn.query_list}: errors as values, never an exception. *)

  val execute_sql_no_result : connection -> ?params:params -> string -> (unit, Error.t) result
  (** {!Conn.execute}, ignoring the count. *)

  val execute_transaction : connection -> string list -> (unit, Error.t) result
  (** {!Conn.execute_transaction}: all the statements or none. *)

  val manual_sync : connection -> (Db.sync_info, Error.t) result
  (** {!Db.sync}. With a replica, writes are synced automatically; this
      pulls other clients' writes. *)

  val get_database_stats : connection -> (Stats.t, Error.t) result
  (** {!Db.stats}. *)

  val string_of_db_error : Error.t -> string
  (** {!Error.to_string}. *)

  val legacy_files : string list
  (** The old workflow's files: [working_copy.db], [local_replica.db],
      [diff.sql], [turso-workflow.sh]. *)

  val find_legacy_files : ?dir:string -> unit -> string list
  (** Those of {!legacy_files} present in [dir] (default: the current
      directory). *)

  val detect_workflow_mode : ?dir:string -> ?env_file:string -> unit -> string
  (** ["ffi"] when an embedded replica is configured ({!Config.of_env}
      gives [Replica]) or its file (the [TURSO_REPLICA_PATH] or default
      path, relative to [dir]) is present; otherwise ["legacy"] when one of
      {!legacy_files} is in [dir]; otherwise ["uninitialized"]. *)
end

(**/**)

module Private : sig
  (* For turso.lwt and the tests; not a stable interface. *)
  module Ffi = Ffi
  module Wire = Wire
  module Sql = Sql
  module type IO = Api_intf.IO

  module Make (Io : IO) : S with type 'a io = 'a Io.t

  val test_panic : unit -> (unit, Error.t) result
  (** Triggers a Rust panic behind the boundary (tests only). *)
end
