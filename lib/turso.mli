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
    thread its own connection. *)

(** {1 Values} *)

module Value : sig
  (** An SQLite value. [Text] is UTF-8 (checked when it crosses into the
      database, and when it is read back); [Blob] is any bytes. *)
  type t = Wire.value =
    | Null
    | Integer of int64
    | Real of float
    | Text of string
    | Blob of string

  val int : int -> t
  (** [Integer]. *)

  val int64 : int64 -> t
  (** [Integer]. *)

  val float : float -> t
  (** [Real]. *)

  val text : string -> t
  (** [Text] (it must be UTF-8 when it reaches the database). *)

  val blob : string -> t
  (** [Blob]: any bytes. *)

  val bool : bool -> t
  (** [Integer 1L] or [Integer 0L], SQLite's booleans. *)

  val option : ('a -> t) -> 'a option -> t
  (** [None] is [Null]. *)

  val type_name : t -> string
  (** ["NULL"], ["INTEGER"], ["REAL"], ["TEXT"] or ["BLOB"]. *)

  val equal : t -> t -> bool
  (** Structural equality; reals compare by their bits, so [nan] equals the
      same [nan] and [-0.] differs from [0.]. *)

  val pp : Format.formatter -> t -> unit
  (** SQL-literal-like: [NULL], [42], [1.5] (the shortest decimal that
      reads back as the same float; [Inf], [-Inf], [NaN]), ['it''s'],
      [x'00ff']. *)

  val to_string : t -> string
  (** The text {!pp} prints. *)
end

(** {1 Errors} *)

module Error : sig
  type kind = Wire.error_kind
  (** What went wrong:
      - [`Sql]: the statement failed (syntax, missing table, I/O, ...).
      - [`Constraint]: a constraint was violated (UNIQUE, NOT NULL, ...).
      - [`Busy]: the database is locked by another connection.
      - [`Auth]: access was refused.
      - [`Network], [`Timeout], [`Sync]: remote and replica faults.
      - [`Closed]: the database, connection or statement was closed.
      - [`Decode]: a value could not be read as asked (e.g. TEXT that is
        not valid UTF-8).
      - [`Config]: the configuration (path, URL, environment) is wrong.
      - [`Misuse]: the call itself is wrong (parameter count or name,
        several statements where one is expected, a NUL byte in SQL,
        invalid UTF-8 in [Text], NaN).
      - [`Internal]: a bug in this library (a caught Rust panic).
      - [`Transaction_closed]: a {!S.Tx.t} was used after its commit,
        rollback or close, or after a statement ended it; or the server
        ended a transaction left idle too long (sqld: about 10 s), which
        also rolled it back (the connection stays usable). *)

  type t = Wire.error = {
    kind : kind;
    code : int option;  (** SQLite extended result code, when there is one *)
    message : string;
    sql : string option;  (** the failing SQL, when there is one *)
  }

  val make : ?code:int -> ?sql:string -> kind -> string -> t
  (** [make kind message] builds an error, e.g. for a [with_transaction]
      callback that wants to roll back. *)

  val kind_to_string : kind -> string
  (** ["sql"], ["constraint"], ... *)

  val code_name : int -> string
  (** The SQLite name of a (primary or extended) result code, e.g.
      [code_name 2067 = "SQLITE_CONSTRAINT_UNIQUE"]; ["SQLITE_UNKNOWN(n)"]
      for codes it does not know. *)

  val primary_code : t -> int option
  (** The primary result code of [code] (its low 8 bits), e.g. [19]
      ([SQLITE_CONSTRAINT]) for [2067] ([SQLITE_CONSTRAINT_UNIQUE]);
      {!code_name} names either. *)

  val is_transient : t -> bool
  (** [true] for [`Busy], [`Network] and [`Timeout]: worth a retry. *)

  val to_string : t -> string
  (** One line: kind, message, code name and SQL. Never contains an auth
      token. *)

  val pp : Format.formatter -> t -> unit
  (** Prints {!to_string}. *)

  exception E of t
  (** Raised by {!ok_exn} and the [_exn] functions. *)
end

val ok_exn : ('a, Error.t) result -> 'a
(** [ok_exn (Ok x) = x]; [ok_exn (Error e)] raises [Error.E e]. *)

type params =
  [ `Positional of Value.t list  (** bound to [?], [?NNN] by position *)
  | `Named of (string * Value.t) list
    (** bound to [:name], [@name], [$name]; a name may be given with its
        prefix (["@id"]) or without (["id"]) *) ]
(** Statement parameters. The count (positional) or the set of names
    (named) must match the statement exactly: a missing, extra or unknown
    parameter is a [`Misuse] error, never a silent [NULL]. [Real nan] and
    [Text] that is not valid UTF-8 are refused with [`Misuse]. *)

(** {1 Rows} *)

module Row : sig
  type t
  (** One result row: column names and values. *)

  val columns : t -> string array
  (** The column names, shared by all rows of a result (do not mutate). *)

  val length : t -> int
  (** The number of columns. *)

  val get : t -> int -> Value.t
  (** [get row i] is the value of column [i] (from 0).
      @raise Invalid_argument if [i] is out of range. *)

  val find : t -> string -> Value.t option
  (** The value of the first column with this name. *)

  val column : t -> string -> (Value.t, Error.t) result
  (** Like {!find}, with a [`Decode] error naming the missing column. *)

  val values : t -> Value.t array
  (** A copy of the values. *)

  val to_list : t -> (string * Value.t) list
  (** Column names with their values, in order. *)

  val pp : Format.formatter -> t -> unit
  (** [{name = value; ...}], values as {!Value.pp} prints them. *)
end

(** {1 Typed decoding} *)

module Decode : sig
  (** Converters from {!Value.t} to OCaml values, and decoders of rows.
      This is the runtime of the [turso.ppx] deriver ([[@@deriving turso]]),
      and what a hand-written decoder can use too. Decoding never raises: a
      value of the wrong type is an error of kind [`Decode] that names the
      column, the expected type and what was found. *)

  type 'a conv
  (** How to read one value as an ['a]. *)

  val int : int conv
  (** [INTEGER] that fits an OCaml [int] (63 bits on 64-bit systems). *)

  val int32 : int32 conv
  (** [INTEGER] in the [int32] range. *)

  val int64 : int64 conv
  (** [INTEGER]. *)

  val float : float conv
  (** [REAL], or [INTEGER] (converted). *)

  val bool : bool conv
  (** [INTEGER] [0] or [1] (anything else is an error). *)

  val string : string conv
  (** [TEXT]. *)

  val bytes : bytes conv
  (** [BLOB]. *)

  val value : Value.t conv
  (** Any value, as is. *)

  val option : 'a conv -> 'a option conv
  (** [NULL] is [None]; anything else is read with the given converter. *)

  val custom : expected:string -> (Value.t -> ('a, string) result) -> 'a conv
  (** A converter from a function; its [Error] message (and any exception it
      raises) becomes the decode error. [expected] names the SQL type. *)

  val get : Row.t -> string -> 'a conv -> ('a, Error.t) result
  (** [get row column conv] reads the column of that name. A missing column
      is an error. *)

  val nth : Row.t -> int -> 'a conv -> ('a, Error.t) result
  (** [nth row i conv] reads column [i] (from 0). *)

  (**/**)

  (* Used by the code that [turso.ppx] generates. *)
  exception Mismatch

  type check

  val check : 'a conv -> check

  type layout

  val layout : string array -> check array -> bool array -> layout
  val resolve : layout -> Row.t -> int array
  val value_at : Row.t -> int array -> int -> Value.t
  val present : int array -> int -> bool
  val read : 'a conv -> Value.t -> 'a
  val to_int : int64 -> int
  val to_int32 : int64 -> int32
  val diagnose : layout -> Row.t -> int array -> Error.t
  val at : Row.t -> int -> 'a conv -> 'a
  val diagnose_at : Row.t -> check array -> Error.t
end

module Encode : sig
  (** Converters from OCaml values to {!Value.t}: what [[@@deriving turso]]
      uses to build parameters. *)

  val int : int -> Value.t
  (** [Integer]. *)

  val int32 : int32 -> Value.t
  (** [Integer]. *)

  val int64 : int64 -> Value.t
  (** [Integer]. *)

  val float : float -> Value.t
  (** [Real]. *)

  val bool : bool -> Value.t
  (** [Integer 1L] or [Integer 0L]. *)

  val string : string -> Value.t
  (** [Text]. *)

  val bytes : bytes -> Value.t
  (** [Blob] (a copy). *)

  val value : Value.t -> Value.t
  (** The value itself. *)

  val option : ('a -> Value.t) -> 'a option -> Value.t
  (** [None] is [Null]. *)
end

(** {1 Databases, connections, statements} *)

module Result_set : sig
  (** A statement's whole result, as {!S.Conn.run} and
      {!S.Conn.batch_list} return it (the shape of the official clients'
      results). *)

  type t = {
    columns : string array;
    decltypes : string option array;  (** declared types; [None] for an expression *)
    rows : Row.t list;
    rows_affected : int64;  (** rows the statement changed (0 for a query) *)
    last_insert_rowid : int64 option;  (** [None] when the statement inserted nothing *)
  }
end

module Config : sig
  (** Which database to open: what {!S.Db.of_env} reads from the
      environment, or what a program builds itself. *)

  type t =
    | Local of string  (** a path, [":memory:"] or a [file:] URI *)
    | Remote of { url : string; auth_token : string }
    | Replica of { path : string; url : string; auth_token : string }

  val of_env : ?env_file:string -> unit -> (t, Error.t) result
  (** The configuration the environment names (see {!S.Db.of_env} for the
      variables and the [.env] file). Reads the file; opens nothing. *)

  val default_replica_path : string
  (** ["turso-replica.db"]. *)

  val to_string : t -> string
  (** A description for people, e.g. ["embedded replica r.db of
      libsql://x.turso.io, auth token set (243 characters)"]: the token is
      never shown, only whether it is set and its length. *)

  val pp : Format.formatter -> t -> unit
  (** Prints {!to_string}. *)
end

module Stats : sig
  (** What a database has done since it was opened ({!S.Db.stats}). *)

  type mode = [ `File | `Memory | `Remote | `Replica ]

  type t = {
    mode : mode;
    statements : int64;
      (** statements run through this database's connections: each
          statement of a batch or script and each parameter set of
          [execute_many] counts *)
    syncs : int;  (** syncs that succeeded: {!S.Db.sync} and periodic ones *)
    failed_syncs : int;
    frames_synced : int64;  (** frames those syncs applied, in total *)
    frame_no : int64 option;  (** the replica's current frame number *)
    last_sync_at : float option;  (** when the last sync started (Unix time) *)
    last_sync_duration : float option;  (** how long it took, in seconds *)
    last_sync_error : string option;
      (** the error of the last sync, if it failed ([None] once one succeeds) *)
  }
  (** Sync figures count the syncs this library runs (manual and
      [sync_interval]); the catch-up syncs libSQL makes by itself for
      read-your-writes are not counted, but show in [frame_no]. Nothing here
      holds the auth token. *)

  val mode_to_string : mode -> string
  (** ["file"], ["memory"], ["remote"], ["replica"]. *)

  val to_list : t -> (string * string) list
  (** Field names and printed values (times in UTC, ISO 8601; ["-"] for
      none), in the order of the record. *)

  val pp : Format.formatter -> t -> unit
  (** One field per line, as {!to_list}. *)
end

(** The operations, for any fiber. [Turso] has them with ['a io = 'a] (they
    block the calling thread, with the runtime lock released); [Turso_lwt]
    (library [turso.lwt]) with ['a io = 'a Lwt.t]. Code switches between
    the two by changing a module name. *)
module type S = sig
  type 'a io

  module Rows : sig
    type t
    (** A result set being streamed: rows arrive in chunks, so a large result
        is never held in memory at once. Read it with {!next}, {!iter},
        {!fold} or {!to_list}; a result set read to its end releases its
        statement by itself. *)

    val columns : t -> string array
    (** The column names. *)

    val decltypes : t -> string option array
    (** Declared column types ([None] for an expression). *)

    val next : t -> (Row.t option, Error.t) result io
    (** The next row, or [None] at the end. A result set is invalidated when
        its prepared statement is executed again: reading it then is a
        [`Misuse] error. *)

    val iter : t -> f:(Row.t -> unit) -> (unit, Error.t) result io
    (** Calls [f] on each remaining row. If [f] raises, the result set is
        closed and the exception passes through. *)

    val fold : t -> init:'a -> f:('a -> Row.t -> 'a) -> ('a, Error.t) result io
    (** Folds [f] over the remaining rows, as {!iter}. *)

    val to_list : t -> (Row.t list, Error.t) result io
    (** The remaining rows, in order. *)

    val close : t -> unit io
    (** Stops reading and releases the statement's read lock. Idempotent. *)
  end



  module Db : sig
    type t
    (** A database. Today: a local file or [":memory:"]. *)

    type open_mode =
      [ `Read_write_create  (** the default: create the file if missing *)
      | `Read_write  (** the file must exist *)
      | `Read_only  (** the file must exist; writes fail with [`Sql] *) ]

    val open_local : ?mode:open_mode -> string -> (t, Error.t) result io
    (** [open_local path] opens a local database file, or an in-memory one
        for [":memory:"] (shared by all connections of this [t], gone when it
        is closed). SQLite URIs ([file:...?mode=ro]) are accepted. Opening
        checks that the file can be opened: a missing file with [`Read_only]
        is an error of kind [`Sql] (code [SQLITE_CANTOPEN]). *)

    val open_remote :
      ?timeout:float -> url:string -> auth_token:string -> unit -> (t, Error.t) result io
    (** [open_remote ~url ~auth_token ()] opens a remote database (sqld or
        Turso) over HTTP (Hrana). URL forms: [libsql://host] (HTTPS;
        [libsql://host:port?tls=0] for plain HTTP, which needs a port),
        [https://...], [http://...], and [wss://], [ws://] (the same host
        over HTTPS, HTTP). Query parameters: [tls] (libsql:// only) and
        [authToken] (used when [auth_token] is [""]); anything else, or
        another scheme, is a [`Config] error that names it. Every request
        waits at most [timeout] seconds (default [10.]) and fails with
        [`Timeout] after that; a server that cannot be reached is a
        [`Network] error. The token never appears in an error.

        Round trips: each connection keeps a server stream of its own
        (sqld drops one idle for about 10 s; outside a transaction it is
        replaced transparently), and every call is one request on it:
        a statement, a script, and {!Conn.batch_list} and
        {!Stmt.execute_many} whatever their size, inside a transaction or
        not. Results carry declared column types everywhere.

        Remote connections differ from local ones in a few ways: results
        are fetched whole, then handed out in chunks; named parameters
        are checked before sending, as locally (a [?NNN] may be given by
        name, ["?2"], next to named ones: the statement is rewritten for
        the server, which binds [?NNN] by position only), positional ones
        by the server (a [`Misuse] error too, in its words);
        {!Stmt.parameter_count} is counted in the SQL, as
        SQLite counts.
        Infinities: the protocol is JSON, which has none, so an infinite
        parameter is a [`Misuse] error and reading a stored infinity is a
        [`Decode] error naming the column (read it as text, or on a
        replica outside a transaction); the stream and any transaction go
        on. Error codes: the server sends only the primary code
        ([SQLITE_CONSTRAINT]); the extended one comes from SQLite's message,
        and for "UNIQUE constraint failed" one more request asks the schema
        whether those columns are the primary key
        ([SQLITE_CONSTRAINT_PRIMARYKEY]). *)

    val open_replica :
      ?sync_interval:float -> ?read_your_writes:bool -> ?timeout:float -> ?sync_timeout:float ->
      path:string -> url:string -> auth_token:string -> unit -> (t, Error.t) result io
    (** [open_replica ~path ~url ~auth_token ()] opens an embedded replica:
        the local file [path] answers reads at local speed and follows the
        primary at [url]; writes go to the primary. With
        [read_your_writes] (the default) a write is visible to the writer's
        next read at once. [sync_interval] (seconds) syncs in the background
        that often; otherwise call {!sync}. Opening makes a first sync;
        [timeout] as in {!open_remote} bounds each request, and
        [sync_timeout] (default [120.] s) a whole sync, which may take many
        requests when the replica is far behind (a [`Timeout] error after
        it; the next sync goes on from where it stopped). Reads run on the local file through
        a read-only connection of this library (values exactly as stored,
        declared types known; a statement the replica cannot prepare, say
        on a table it has not synced yet, goes to the primary); writes,
        and everything inside a transaction, go to the primary as on a
        remote database (same rules), and with [read_your_writes] the
        replica syncs after each write outside a transaction, or after
        the COMMIT. *)

    type sync_info = {
      frame_no : int64 option;  (** the primary's frame the replica has reached *)
      frames_synced : int;  (** frames this sync applied *)
    }
    (** What a sync did. *)

    val sync : t -> (sync_info, Error.t) result io
    (** Pulls the primary's changes into an embedded replica. A [`Misuse]
        error on a database that is not a replica. *)

    val stats : t -> (Stats.t, Error.t) result io
    (** What the database has done. A [`Closed] error after {!close}. *)

    val close : t -> unit io
    (** Idempotent. Connections already open stay usable until they are
        closed; new ones cannot be made ([`Closed]). *)

    val open_config : ?timeout:float -> Config.t -> (t, Error.t) result io
    (** Opens what the configuration names ([timeout] as in {!open_remote};
        ignored for a local file). *)

    val of_env : ?env_file:string -> unit -> (t, Error.t) result io
    (** Opens the database the environment names:
        - [TURSO_DATABASE_URL] (required): a [libsql://], [https://] or
          [http://] URL, or a local path or [file:] URI;
        - [TURSO_AUTH_TOKEN]: the token for a remote URL;
        - [TURSO_REPLICA_PATH]: for a remote URL, the embedded replica's
          file (default ["turso-replica.db"]); set it to [none] to use the
          remote database directly, without a replica.

        Variables are also read from [env_file] (default [".env"], if it
        exists): [KEY=VALUE] lines, [#] comments, an optional [export]
        prefix, values bare, in single quotes (as is) or in double quotes
        (with backslash escapes for newline, tab, double quote and
        backslash). The real environment wins; an empty variable counts as
        unset. No URL is a [`Config] error that names
        [TURSO_DATABASE_URL]. *)
  end

  module Stmt : sig
    type t
    (** A prepared statement, reusable with different parameters. *)

    val execute : ?params:params -> t -> (int64, Error.t) result io
    (** Runs the statement to its end; returns the rows changed. *)

    val execute_many : t -> Value.t list list -> (int64, Error.t) result io
    (** Runs the statement once per positional parameter set, in one call
        across the boundary and all or nothing (inside a transaction, or a
        savepoint when a transaction is open). Returns the rows changed in
        total. The error of a failing set names its index. *)

    val query : ?params:params -> t -> (Rows.t, Error.t) result io
    (** Starts a query; the previous result set of this statement, if still
        being read, is invalidated. *)

    val query_one : ?params:params -> t -> (Row.t option, Error.t) result io
    (** The first row, if any, in one call across the boundary; the
        statement is reset right after it (the rest is not read). *)

    val parameter_count : t -> (int, Error.t) result io
    (** The largest parameter index of the statement. *)

    val reset : t -> (unit, Error.t) result io
    (** Abandons a result set being read (releasing its read lock). *)

    val close : t -> unit io
    (** Idempotent. Statements are also closed with their connection, and
        by the GC. *)
  end

  module Conn : sig
    type t
    (** A connection to a {!Db.t}. *)

    val connect : ?busy_timeout:float -> Db.t -> (t, Error.t) result io
    (** Opens a connection. [busy_timeout] (seconds, default [5.0]) is how
        long a statement waits for another connection's lock before failing
        with [`Busy]; [0.] fails at once. Foreign keys are enforced by
        default (libSQL's build). *)

    val execute : ?params:params -> t -> string -> (int64, Error.t) result io
    (** Runs one statement; returns the rows changed. Text holding more than
        one statement is a [`Misuse] error (use {!batch}); rows a statement
        returns are discarded. *)

    val query : ?params:params -> t -> string -> (Rows.t, Error.t) result io
    (** Runs one statement and streams its rows. *)

    val query_list : ?params:params -> t -> string -> (Row.t list, Error.t) result io
    (** Runs one statement and returns all its rows. *)

    val query_one : ?params:params -> t -> string -> (Row.t option, Error.t) result io
    (** The first row, if any; the rest is not read. *)

    val fold :
      ?params:params -> t -> string -> init:'a -> f:('a -> Row.t -> 'a) ->
      ('a, Error.t) result io
    (** Streams the rows into [f], one chunk across the boundary at a time. *)

    val iter : ?params:params -> t -> string -> f:(Row.t -> unit) -> (unit, Error.t) result io
    (** As {!fold}, for effects. *)

    val query_map :
      ?params:params -> t -> string -> f:(Row.t -> ('a, Error.t) result) -> ('a list, Error.t) result io
    (** Streams the rows through a decoder (for example one derived with
        [[@@deriving turso]]); stops at the first error. *)

    val prepare : t -> string -> (Stmt.t, Error.t) result io
    (** Prepares one statement for reuse. *)

    val batch : t -> string -> (unit, Error.t) result io
    (** Runs a script of statements separated by [;], all or nothing: in a
        transaction (a savepoint if one is open). If a statement fails,
        nothing of the script stays and the error names the statement (from
        0). The script may not contain BEGIN, COMMIT or ROLLBACK (a
        [`Misuse] error): use {!script} for that. *)

    val script : t -> string -> (unit, Error.t) result io
    (** Runs a script of statements in order and stops at the first error;
        statements before it stay. If the script opened a transaction and
        then failed, that transaction is rolled back, not left open. *)

    type behavior = [ `Deferred | `Immediate | `Exclusive ]

    val with_transaction :
      ?behavior:behavior -> t -> (t -> ('a, Error.t) result io) -> ('a, Error.t) result io
    (** [with_transaction conn f] runs [f conn] in a transaction
        ([`Deferred] by default): commits on [Ok], rolls back on [Error] or
        on an exception (which is re-raised). Inside an open transaction it
        nests as a savepoint ([behavior] is then ignored). If the commit
        fails, the transaction is rolled back and the error returned. *)

    val execute_transaction : t -> string list -> (unit, Error.t) result io
    (** Runs each statement of the list, in order, in one immediate
        transaction: all of them or none. *)

    val last_insert_rowid : t -> (int64, Error.t) result io
    (** The rowid of the last row inserted on this connection. *)

    val changes : t -> (int64, Error.t) result io
    (** Rows changed by the last statement on this connection. *)

    val is_autocommit : t -> (bool, Error.t) result io
    (** [false] while a transaction is open. *)

    val set_busy_timeout : t -> float -> (unit, Error.t) result io
    (** See {!connect}. *)

    val close : t -> unit io
    (** Closes the connection and all its statements. Idempotent; any later
        use is a [`Closed] error. *)

    val run : ?params:params -> t -> string -> (Result_set.t, Error.t) result io
    (** Runs one statement and returns its whole result: rows, column names
        and declared types, rows changed, inserted rowid. *)

    type batch_mode = [ `Write | `Read | `Deferred ]

    val batch_list :
      ?mode:batch_mode -> t -> (string * params) list -> (Result_set.t list, Error.t) result io
    (** [batch_list conn [ (sql, params); ... ]] runs the statements in
        order in one transaction and returns each one's result. If one
        fails, nothing of the batch stays and the error's message starts
        with ["statement i: "] (from 0). Modes, as the official clients:
        [`Write] begins [IMMEDIATE], [`Deferred] (the default) [DEFERRED],
        [`Read] accepts only [SELECT], [VALUES] and [WITH ... SELECT]
        statements (checked before anything runs, in every mode; a local
        database also sets [query_only]). Inside an open transaction the
        batch is a savepoint. BEGIN, COMMIT and ROLLBACK are refused
        ([`Misuse]).

        On a remote database or a replica, outside a transaction, the whole
        batch is one HTTP request (then a replica syncs, for
        read-your-writes; a [`Read] batch on a replica runs locally). Use
        [`Positional []] for a statement without parameters. *)
  end

  module Tx : sig
    (** An interactive transaction as a value. *)

    type t

    val begin_ : ?behavior:Conn.behavior -> Conn.t -> (t, Error.t) result io
    (** Begins a transaction ([`Deferred] by default). A [`Misuse] error if
        one is already open on the connection. *)

    val execute : ?params:params -> t -> string -> (int64, Error.t) result io
    (** {!Conn.execute} inside the transaction. *)

    val query : ?params:params -> t -> string -> (Row.t list, Error.t) result io
    (** {!Conn.query_list} inside the transaction. *)

    val run : ?params:params -> t -> string -> (Result_set.t, Error.t) result io
    (** {!Conn.run} inside the transaction. *)

    val batch : t -> (string * params) list -> (Result_set.t list, Error.t) result io
    (** {!Conn.batch_list} inside the transaction (a savepoint: all of it or
        none of it, the transaction stays open either way). *)

    val script : t -> string -> (unit, Error.t) result io
    (** As in {!Conn}. A failed statement does not end the transaction
        (as in SQLite). A statement that ends it ([ROLLBACK], or
        [INSERT OR ROLLBACK] that fires) does: after it, every use is a
        [`Transaction_closed] error. *)

    val commit : t -> (unit, Error.t) result io
    (** Commits. If the commit fails, the transaction is rolled back (the
        connection stays usable) and the error returned. *)

    val rollback : t -> (unit, Error.t) result io
    (** Rolls back. After {!commit} or {!rollback}, any use of the
        transaction is a [`Transaction_closed] error. *)

    val close : t -> unit io
    (** Rolls back if still open. Idempotent. *)

    val is_open : t -> bool
    (** [false] once committed, rolled back, closed or ended by a statement. *)
  end

  val retry :
    ?attempts:int -> ?base_delay:float -> ?max_delay:float ->
    ?on_retry:(attempt:int -> delay:float -> Error.t -> unit) ->
    (unit -> ('a, Error.t) result io) -> ('a, Error.t) result io
  (** [retry f] runs [f ()] and runs it again while it fails with a
      transient error ({!Error.is_transient}: [`Busy], [`Network],
      [`Timeout]), at most [attempts] times in all (default [4]). Before
      attempt [n + 1] it waits [d/2] plus a random part of [d/2], where
      [d = min max_delay (base_delay * 2^(n-1))] (defaults [0.1] s and
      [2.] s): exponential backoff with jitter. Other errors, and the last
      attempt's error, are returned as they are; exceptions pass through.
      [on_retry] is told about each retry before its wait.

      Only retry what is safe to run twice: a write that timed out may
      have reached the server. *)
end

include S with type 'a io := 'a

(** {1 Scripting helpers} *)

module Syntax : sig
  val ( let* ) : ('a, 'e) result -> ('a -> ('b, 'e) result) -> ('b, 'e) result
  (** [Result.bind]. *)

  val ( let+ ) : ('a, 'e) result -> ('a -> 'b) -> ('b, 'e) result
  (** [Result.map]. *)
end

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

  module type IO = sig
    type 'a t

    val return : 'a -> 'a t
    val bind : 'a t -> ('a -> 'b t) -> 'b t
    val on_exn : (unit -> 'a t) -> (unit -> unit t) -> 'a t
    val call : (unit -> string) -> (int -> unit) -> string t
    val sleep : float -> unit t

    val call_handle :
      (unit -> ('h, string) result) -> (int -> unit) -> (int -> ('h, string) result) ->
      ('h, string) result t
  end

  module Make (Io : IO) : S with type 'a io = 'a Io.t

  val test_panic : unit -> (unit, Error.t) result
  (** Triggers a Rust panic behind the boundary (tests only). *)
end
