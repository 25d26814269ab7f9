type db
type conn
type stmt

external interop_setup : unit -> unit = "ocaml_interop_setup"
(** Sets up ocaml-interop's GC roots (boxroot); called once at start-up. *)


external db_open_local : string -> int -> (db, string) result = "turso_db_open_local"
external db_close : db -> unit = "turso_db_close"
external db_connect : db -> int -> (conn, string) result = "turso_db_connect"
external conn_close : conn -> unit = "turso_conn_close"
external conn_execute : conn -> string -> string -> string = "turso_conn_execute"
external conn_batch : conn -> string -> bool -> string = "turso_conn_batch"
external conn_prepare : conn -> string -> (stmt, string) result = "turso_conn_prepare"
external conn_last_insert_rowid : conn -> string = "turso_conn_last_insert_rowid"
external conn_changes : conn -> string = "turso_conn_changes"
external conn_is_autocommit : conn -> string = "turso_conn_is_autocommit"
external conn_set_busy_timeout : conn -> int -> string = "turso_conn_set_busy_timeout"
external stmt_execute : stmt -> string -> string = "turso_stmt_execute"
external stmt_execute_many : stmt -> string -> string = "turso_stmt_execute_many"
external stmt_query : stmt -> string -> int -> bool -> string = "turso_stmt_query"
(** [stmt_query s params max_rows want_header]; [max_rows = 0]: the first
    row only, then the statement is reset. *)

external stmt_fetch : stmt -> int -> int -> string = "turso_stmt_fetch"
external stmt_reset : stmt -> int -> string = "turso_stmt_reset"
external stmt_parameter_count : stmt -> string = "turso_stmt_parameter_count"
external stmt_close : stmt -> unit = "turso_stmt_close"
external test_panic : unit -> string = "turso_test_panic"
let () = interop_setup ()
