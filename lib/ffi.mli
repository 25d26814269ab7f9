(** The externals: the one way into the Rust stub (internal).

    Every operation comes in two forms: [x] runs now, with the runtime lock
    released, and returns its reply in the format of {!Wire} (handle
    operations return [Error reply] on failure); [x_async ... id] queues it
    on the connection's queue and returns at once: its reply arrives later
    through {!async_take} under [id], and a handle it made is taken with
    [take_*]. *)

type db
type conn
type stmt

external interop_setup : unit -> unit = "ocaml_interop_setup"
(** Sets up ocaml-interop's GC roots (boxroot); called once at start-up. *)

external db_open_local : string -> int -> string -> (db, string) result = "turso_db_open_local"
(** [db_open_local path flags key]; [key]: the encryption key, [""] for none. *)

external db_open_local_async : string -> int -> string -> int -> unit = "turso_db_open_local_async"
external db_open_remote : string -> string -> string -> (db, string) result = "turso_db_open_remote"
(** [db_open_remote url token opts]; [opts]: i64 timeout in ms, i64 largest
    reply in bytes. *)

external db_open_remote_async : string -> string -> string -> int -> unit = "turso_db_open_remote_async"
external db_open_replica : string -> string -> string -> string -> (db, string) result = "turso_db_open_replica"
external db_open_replica_async : string -> string -> string -> string -> int -> unit = "turso_db_open_replica_async"
external db_open_synced : string -> string -> string -> string -> (db, string) result = "turso_db_open_synced"
(** [db_open_synced path url token opts]; [opts]: i64 timeout in ms, i64
    long-poll timeout in ms (0: none), u8 bootstrap when empty, bytes
    client name. *)

external db_open_synced_async : string -> string -> string -> string -> int -> unit = "turso_db_open_synced_async"
external db_push : db -> string = "turso_db_push"
external db_push_async : db -> int -> unit = "turso_db_push_async"
external db_pull : db -> string = "turso_db_pull"
external db_pull_async : db -> int -> unit = "turso_db_pull_async"
external db_checkpoint : db -> string = "turso_db_checkpoint"
external db_checkpoint_async : db -> int -> unit = "turso_db_checkpoint_async"
external db_sync : db -> string = "turso_db_sync"
external db_sync_async : db -> int -> unit = "turso_db_sync_async"
external db_stats : db -> string = "turso_db_stats"
external db_stats_async : db -> int -> unit = "turso_db_stats_async"
external db_connect : db -> int -> (conn, string) result = "turso_db_connect"
external db_connect_async : db -> int -> int -> unit = "turso_db_connect_async"
external db_close : db -> string = "turso_db_close"
external db_close_async : db -> int -> unit = "turso_db_close_async"
external conn_prepare : conn -> string -> (stmt, string) result = "turso_conn_prepare"
external conn_prepare_async : conn -> string -> int -> unit = "turso_conn_prepare_async"
external conn_close : conn -> string = "turso_conn_close"
external conn_close_async : conn -> int -> unit = "turso_conn_close_async"
external conn_describe : conn -> string -> string = "turso_conn_describe"
external conn_describe_async : conn -> string -> int -> unit = "turso_conn_describe_async"
(** A statement's shape, prepared and not run (local connections): an OK
    reply with a string list, see [local.rs] [describe]. *)

external conn_execute : conn -> string -> string -> string = "turso_conn_execute"
external conn_execute_async : conn -> string -> string -> int -> unit = "turso_conn_execute_async"
external conn_batch : conn -> string -> bool -> string = "turso_conn_batch"
external conn_batch_async : conn -> string -> bool -> int -> unit = "turso_conn_batch_async"
external conn_batch_list : conn -> string -> string = "turso_conn_batch_list"
(** A batch of statements with parameters; the request and reply layouts
    are in [rust/src/wire.rs] ([batch_request], and its module comment
    for a result). *)

external conn_batch_list_async : conn -> string -> int -> unit = "turso_conn_batch_list_async"
external conn_query_one : conn -> string -> string -> string = "turso_conn_query_one"
(** [conn_query_one c sql params]: prepare, the first row (a reply as
    [stmt_query] with [max_rows = 0] and the header), finalize; one job. *)

external conn_query_one_async : conn -> string -> string -> int -> unit = "turso_conn_query_one_async"

external conn_query_async : conn -> string -> string -> int -> int -> unit = "turso_conn_query_async"
(** [conn_query_async c sql params max_rows id]: prepare and the first
    chunk (with the header) in one job; after an OK reply, [take_stmt id]
    gives the statement. *)

external conn_run : conn -> string -> string -> string = "turso_conn_run"
external conn_run_async : conn -> string -> string -> int -> unit = "turso_conn_run_async"
external conn_last_insert_rowid : conn -> string = "turso_conn_last_insert_rowid"
external conn_last_insert_rowid_async : conn -> int -> unit = "turso_conn_last_insert_rowid_async"
external conn_changes : conn -> string = "turso_conn_changes"
external conn_changes_async : conn -> int -> unit = "turso_conn_changes_async"
external stmt_query_one_now : stmt -> string -> bool -> string = "turso_stmt_query_one_now"
(** [stmt_query ~max_rows:0] run now, on this thread, when it surely will
    not wait (a local, read-only statement, the connection free and
    nothing of it queued, no busy wait, a budget of VM steps): its reply;
    or [""]: run it the usual way. For turso.lwt. *)

external cpu_count : unit -> int = "turso_cpu_count"
(** The CPUs this process may run on (Rust's available_parallelism; 1 if
    unknown). *)

external conn_autocommit_now : conn -> int = "turso_conn_autocommit_now"
(** 1 or 0 when the connection's autocommit flag can be read now (no job
    of it queued or running, its lock free), -1 otherwise: ask with
    {!conn_is_autocommit}. Runs with the runtime lock held; never waits. *)

external conn_is_autocommit : conn -> string = "turso_conn_is_autocommit"
external conn_is_autocommit_async : conn -> int -> unit = "turso_conn_is_autocommit_async"
external conn_set_busy_timeout : conn -> int -> string = "turso_conn_set_busy_timeout"
external conn_set_busy_timeout_async : conn -> int -> int -> unit = "turso_conn_set_busy_timeout_async"
external stmt_execute : stmt -> string -> string = "turso_stmt_execute"
external stmt_execute_async : stmt -> string -> int -> unit = "turso_stmt_execute_async"
external stmt_execute_many : stmt -> string -> string = "turso_stmt_execute_many"
external stmt_execute_many_async : stmt -> string -> int -> unit = "turso_stmt_execute_many_async"

external stmt_query : stmt -> string -> int -> bool -> string = "turso_stmt_query"
(** [stmt_query s params max_rows want_header]; [max_rows = 0]: the first
    row only, then the statement is reset. *)

external stmt_query_async : stmt -> string -> int -> bool -> int -> unit = "turso_stmt_query_async"
external stmt_fetch : stmt -> int -> int -> string = "turso_stmt_fetch"
external stmt_fetch_async : stmt -> int -> int -> int -> unit = "turso_stmt_fetch_async"
external stmt_reset : stmt -> int -> string = "turso_stmt_reset"
external stmt_reset_async : stmt -> int -> int -> unit = "turso_stmt_reset_async"
external stmt_parameter_count : stmt -> string = "turso_stmt_parameter_count"
external stmt_parameter_count_async : stmt -> int -> unit = "turso_stmt_parameter_count_async"
external stmt_close : stmt -> string = "turso_stmt_close"
external stmt_close_async : stmt -> int -> unit = "turso_stmt_close_async"
external test_panic : unit -> string = "turso_test_panic"
external test_panic_async : unit -> int -> unit = "turso_test_panic_async"
external take_db : int -> (db, string) result = "turso_take_db"
external take_conn : int -> (conn, string) result = "turso_take_conn"
external take_stmt : int -> (stmt, string) result = "turso_take_stmt"

external async_fd : unit -> int = "turso_async_fd"
(** The descriptor that becomes readable when completions are waiting. *)

external async_take : bool -> string = "turso_async_take"
(** [async_take woken]: all waiting completions: u32 count, then (i64 id,
    u32 length, reply). [woken]: called because {!async_fd} became
    readable (its byte is consumed). *)

external async_set_polling : bool -> unit = "turso_async_set_polling" [@@noalloc]
(** Set while the caller spins on {!async_ready}: no wake-up byte is sent
    meanwhile, so the caller must check {!async_ready} after clearing it. *)

external forked : unit -> bool = "turso_forked" [@@noalloc]
(** Whether this process is the child of a fork() made after a database
    was opened: every call then fails with a [`Misuse] error
    ([rust/src/fork.rs]). *)

external async_ready : unit -> bool = "turso_async_ready" [@@noalloc]
(** Whether completions are waiting (no allocation, no lock). *)

external async_cancel : int -> unit = "turso_async_cancel"
(** Forgets a request: not run if not started; its result is dropped. *)

external sql_is_read_only : string -> bool = "turso_sql_is_read_only"
(** Whether a statement only reads: its first keyword is SELECT, VALUES or
    WITH, and none of INSERT, UPDATE, DELETE or REPLACE appears as a word
    outside string literals, quoted identifiers and comments ([--], [/* */]).
    The scanner the engines use ([rust/src/sql.rs], [is_read_only]); runs on
    the calling thread, without a database. *)

external sql_complete : string -> bool = "turso_sql_complete"
(** Whether the text ends with a complete statement, as
    [sqlite3_complete] says ([rust/src/sql.rs], [complete]): not inside a
    literal, a comment or a trigger's body. Runs on the calling thread. *)

external sql_split : string -> string = "turso_sql_split"
(** The statements of a script as SQLite splits them: a [;] ends one where
    [sqlite3_complete] says the text up to it is one (so not inside a
    trigger's body, a literal or a comment); each trimmed, without its final
    [;], empty ones left out. Reply: u32 count, then for each statement a
    u32 length and its bytes, little-endian ([rust/src/sql.rs], [split];
    [rust/src/wire.rs], [string_list]). Runs on the calling thread. *)
