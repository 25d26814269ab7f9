(** The shape of the API, written once for every fiber: the operations
    ({!S}), and what a fiber provides to run them ({!IO}). [Turso] is {!S}
    with ['a io = 'a]; [Turso_lwt] with ['a io = 'a Lwt.t].

    lib/dune copies this file to api_intf.ml: a file of module types alone
    is the same text as an implementation, so the signatures are written
    once. *)

(** What a fiber provides (the library's own business: [Turso] and
    [Turso_lwt] supply it). An operation is a call into the Rust stub in
    its two forms: [sync] runs it now; [async id] queues it, and its reply
    comes back later under [id]. *)
module type IO = sig
  type 'a t

  val return : 'a -> 'a t
  (** A fiber that is done with this value. *)

  val bind : 'a t -> ('a -> 'b t) -> 'b t
  (** Sequencing. *)

  val on_exn : (unit -> 'a t) -> (unit -> unit t) -> 'a t
  (** [on_exn f cleanup] runs [f ()]; if it raises (or fails), runs
      [cleanup ()] and raises the same exception again. *)

  val call : (unit -> string) -> (int -> unit) -> string t
  (** [call sync async]: the reply of one operation of the stub. *)

  val call_quick : (unit -> string) -> (unit -> string) -> (int -> unit) -> string t
  (** [call_quick now sync async]: as [call sync async], for an operation
      that may also be answered at once: a fiber that otherwise hands
      calls to another thread first tries [now ()], which replies, or
      [""] for "not now" (then as [call]). *)

  val sleep : float -> unit t
  (** Waits that many seconds (for {!S.retry}). *)

  val call_handle :
    (unit -> ('h, string) result) -> (int -> unit) -> (int -> ('h, string) result) ->
    ('h, string) result t
  (** [call_handle sync async take]: [take id] gets the handle once the
      reply to [async id] is OK. *)

  val call_with_handle :
    (unit -> ('h * string, string) result) -> (int -> unit) -> (int -> ('h, string) result) ->
    ('h * string, string) result t
  (** As [call_handle], for an operation that replies with bytes and a
      handle: after an OK reply to [async id], [take id] gets the handle. *)

  type permits
  (** A counting semaphore (for {!S.Pool}): permits taken and given back
      by fibers of this kind (threads, or Lwt promises). *)

  val permits : int -> permits
  (** [permits n]: [n] permits, all free. *)

  val acquire : permits -> timeout:float -> bool t
  (** Takes a permit, waiting up to [timeout] seconds for one; [false]
      if none came in time. *)

  val release : permits -> unit
  (** Gives a permit back (to a waiter, if there is one). *)
end

(** The operations, for any fiber.

    {b Durations} are seconds, as floats. Every duration argument
    ([timeout], [sync_timeout], [sync_interval], [busy_timeout], the
    delays of [retry]) must be finite, from 0 to 1,000,000 (a [timeout] or
    [sync_timeout] more than 0): anything else ([nan], [infinity], a
    negative number) is a [`Misuse] error that names the argument, and
    nothing is opened or run. *)
module type S = sig
  type 'a io
  (** The fiber: ['a] itself for [Turso] (the call blocks), ['a Lwt.t]
      for [Turso_lwt]. Exposed, with {!Io} and {!Syntax}, so that code
      written once as a functor over {!Turso.S} applies to either:
      {[
        module Users (T : Turso.S) = struct
          let count conn =
            let open T.Syntax in
            let+ row = T.Conn.query_one conn "SELECT count(*) FROM users" in
            match row with Some r -> Turso.Row.get r 0 | None -> Turso.Value.Null
        end
        module Blocking_users = Users (Turso)
        module Lwt_users = Users (Turso_lwt)
      ]} *)

  module Io : sig
    val return : 'a -> 'a io
    (** A fiber that is done, with this value. *)

    val bind : 'a io -> ('a -> 'b io) -> 'b io
    (** Sequencing: for [Turso], [bind x f = f x]; for [Turso_lwt],
        [Lwt.bind]. *)

    val map : ('a -> 'b) -> 'a io -> 'b io
    (** [map f x = bind x (fun v -> return (f v))]. *)
  end

  module Syntax : sig
    (** Binding operators for [(_, Error.t) result io]: the fiber and the
        result at once. *)

    val ( let* ) : ('a, 'e) result io -> ('a -> ('b, 'e) result io) -> ('b, 'e) result io
    (** Binds the fiber, then the result: an [Error] skips the rest. *)

    val ( let+ ) : ('a, 'e) result io -> ('a -> 'b) -> ('b, 'e) result io
    (** Maps the value inside the fiber's result. *)
  end

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

    val open_local : ?mode:open_mode -> ?encryption_key:string -> string -> (t, Error.t) result io
    (** [open_local path] opens a local database file, or an in-memory one
        for [":memory:"] (shared by all connections of this [t], gone when it
        is closed). SQLite URIs ([file:...?mode=ro]) are accepted. Opening
        checks that the file can be opened: a missing file with [`Read_only]
        is an error of kind [`Sql] (code [SQLITE_CANTOPEN]).

        [encryption_key]: the file is encrypted at rest (AES-256-CBC, by
        SQLite3MultipleCiphers, which libSQL links): the file, its WAL and
        its shared-memory index hold no plaintext. A new file is created
        encrypted; a plain file is not converted. Opening checks the key:
        a wrong one is an [`Auth] error that says so, none for an encrypted
        file (or a key for a plain one) a [`Config] error that says so; an
        empty key, or one for [":memory:"], is a [`Config] error. The key
        is never in a message, {!Stats} or {!Config.to_string}. *)

    val open_remote :
      ?timeout:float -> ?max_reply_size:int -> url:string -> auth_token:string -> unit ->
      (t, Error.t) result io
    (** [open_remote ~url ~auth_token ()] opens a remote database (sqld or
        Turso) over HTTP (Hrana). URL forms: [libsql://host] (HTTPS;
        [libsql://host:port?tls=0] for plain HTTP, which needs a port),
        [https://...], [http://...], and [wss://], [ws://] (the same host
        over HTTPS, HTTP). Query parameters: [tls] (libsql:// only) and
        [authToken] (used when [auth_token] is [""]); anything else, or
        another scheme, is a [`Config] error that names it. Every request
        waits at most [timeout] seconds (default [10.]) and fails with
        [`Timeout] after that; a server that cannot be reached is a
        [`Network] error. The token never appears in an error. A reply
        larger than [max_reply_size] bytes (default 128 MiB) is refused as
        it arrives, with a [`Decode] error that says so (a broken or
        hostile server cannot make the process hold more); the
        connection stays usable. {!Stats.t}'s [requests] counts the HTTP
        requests sent.

        Round trips: each connection keeps a server stream of its own
        (sqld drops one idle for about 10 s; outside a transaction it is
        replaced transparently), and every call is one request on it:
        a statement, a script, and {!Conn.batch_list} and
        {!Stmt.execute_many} whatever their size, inside a transaction or
        not. Results carry declared column types everywhere.

        Remote connections differ from local ones in a few ways. Results
        come whole, in one reply, then are handed out in chunks; a SELECT
        (or VALUES, WITH) read with {!Conn.query}, {!Conn.fold},
        {!Conn.iter}, {!Conn.query_list} or {!Stmt.query} whose reply is
        too large for that (sqld refuses one past 10 MB by default, this
        library past [max_reply_size]) runs again as a streamed result,
        which the server sends as it is read: any size then reads in the
        memory of a chunk, [max_reply_size] bounds a row, and [timeout]
        each wait for more rows. (Whole first because sqld sends a
        streamed result about 8 times slower.) A streamed result holds
        the connection's server stream until it is read: a statement run
        on the same connection meanwhile first reads the rest ahead for it
        (up to [max_reply_size], past which the reader gets a [`Decode]
        error that says why), and a result closed early is read past; so
        read a large result to its end, or run other work on another
        connection. Named parameters
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
      ?max_reply_size:int -> ?encryption_key:string -> path:string -> url:string -> auth_token:string -> unit ->
      (t, Error.t) result io
    (** [open_replica ~path ~url ~auth_token ()] opens an embedded replica:
        the local file [path] answers reads at local speed and follows the
        primary at [url]; writes go to the primary. With
        [read_your_writes] (the default) a write is visible to the writer's
        next read at once. [sync_interval] (seconds) syncs in the background
        that often; otherwise call {!sync}. Opening asks the primary once
        (a refused token is an [`Auth] error at once) and makes a first
        sync. With the primary down or silent, a replica whose file exists
        opens anyway, within [timeout], and serves what it has; its first
        sync is the next one (periodic, {!sync}, or after a write), and
        {!Stats} says why it is behind. Without a file, the [`Network] or
        [`Timeout] error is returned. [timeout] as in {!open_remote}
        bounds each request, and a sync that makes no progress (the
        replica's frame does not move) for [timeout] fails with
        [`Timeout]; a sync that keeps receiving frames may run to
        [sync_timeout] (default [120.] s), for a replica far behind (a
        [`Timeout] error after it; the next sync goes on from where it
        stopped). Reads run on the local file through
        a read-only connection of this library (values exactly as stored,
        declared types known; a statement the replica cannot prepare, say
        on a table it has not synced yet, goes to the primary); writes,
        and everything inside a transaction, go to the primary as on a
        remote database (same rules), and with [read_your_writes] the
        replica syncs after each write outside a transaction, or after
        the COMMIT. [max_reply_size] as in {!open_remote}.

        [encryption_key]: the replica's file is encrypted at rest, as in
        {!open_local} (same checks at open, for a file already there):
        libsql writes the synced frames encrypted and this library's reads
        open it keyed; the replica's other files (its frame index and
        metadata) hold no data. The primary's copy is the server's
        business. With a key the replica syncs with libsql's sync protocol
        v1: libsql drops the key when it picks v2 (Turso's platform), and
        would write the file in the clear. *)

    val open_synced :
      ?timeout:float -> ?long_poll_timeout:float -> ?bootstrap:bool -> ?client_name:string -> ?push_interval:float ->
      ?pull_interval:float -> ?auto_push:bool -> path:string -> url:string -> auth_token:string -> unit ->
      (t, Error.t) result io
    (** [open_synced ~path ~url ~auth_token ()] opens a synced database: a
        local file on the Turso engine (the Rust rewrite of SQLite) kept in
        step with the remote database at [url] by Turso Sync. Unlike an
        embedded replica, writes land in the local file, at local speed,
        whether the server is there or not; {!push} sends them, {!pull}
        brings the remote changes and replays the local ones not pushed
        yet on top of them, and the last push wins a conflict on a row.
        A new file is first downloaded from the server ([bootstrap],
        default [true]); a file synced before opens without the server.
        [timeout] (seconds, default [10.]) bounds opening and each push
        and pull's exchange with the server: a server that is down or
        silent is a [`Network] or [`Timeout] error within it, and nothing
        is lost (applying the changes a pull brought, and a {!checkpoint},
        are local work and run to their end).
        [long_poll_timeout]: how long a pull may wait on the server for
        changes (default: it does not wait). [client_name] names this
        client to the server.

        In the background (a thread of the database's; none unless one of
        these is given): [push_interval] and [pull_interval] (seconds)
        push and pull that often; with [auto_push] (default [false]) every
        commit (a write outside a transaction, or a COMMIT) is pushed soon
        after, without waiting for it: commits made while a push is under
        way go in the next one, and a push that fails (offline) is tried
        again after 1 s, 2 s, 4 s … up to 30 s, until the server takes it.
        Background failures never reach the writes: they are in
        {!Stats} ([last_sync_error]), and {!push} reports them when called.
        A background pull that finds a result set open or a transaction
        under way is skipped until its next turn. {!close} stops the
        background work (after a push or pull under way, itself bounded
        by [timeout]).

        The engine's own rules: statements run on the Turso engine, which
        does not have every SQLite feature yet (a statement it cannot run
        is an [`Sql] error that says "not supported by the Turso
        engine"). The engine fails every statement while a pull applies
        changes or a checkpoint runs: here statements wait for those
        instead (they are local and short; the pull's network wait does
        not hold statements up), and a pull or checkpoint waits for the
        statements running (up to [timeout], then [`Busy]). A result set
        left open, or a transaction, keeps the version of the database it
        started on, so a pull is refused ([`Busy], transient:
        {!Turso.retry} works) while a result set of the database is open
        (not read to its end nor closed) or one of its connections is in a
        transaction. Syncs run one at a time (a call may first wait for
        one under way, itself bounded by [timeout]). Not yet: encryption,
        and partial sync (the engine's partial sync makes a read that needs
        a page not downloaded yet wait forever for a server that is down:
        see the README). *)

    val push : t -> (int, Error.t) result io
    (** Sends the local changes not pushed yet to the server; returns how
        many were sent. A [`Misuse] error on a database that is not
        synced. *)

    val pull : t -> (bool, Error.t) result io
    (** Brings the server's changes; [true] if any were applied. Local
        changes not pushed yet are kept (replayed on top). *)

    val checkpoint : t -> (unit, Error.t) result io
    (** Moves the synced database's write-ahead log into its file (the
        engine does not do it by itself on a synced database). *)

    type sync_info = {
      frame_no : int64 option;  (** the primary's frame the replica has reached *)
      frames_synced : int;  (** frames this sync applied *)
    }
    (** What a sync did. *)

    val sync : t -> (sync_info, Error.t) result io
    (** Pulls the primary's changes into an embedded replica. On a synced
        database: {!pull}, then {!push} ([frame_no] is [None] and
        [frames_synced] the changes pushed, plus one if the pull applied
        any). A [`Misuse] error on a local or remote database. *)

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
          remote database directly, without a replica;
        - [TURSO_SYNCED_PATH]: for a remote URL, open a synced database
          (Turso engine, {!open_synced}) with this file instead of a
          replica; and for it, [TURSO_PUSH_INTERVAL] and
          [TURSO_PULL_INTERVAL] (seconds) and [TURSO_AUTO_PUSH] ([1],
          [true], [yes], [on] or [0], [false], [no], [off]): its background
          work. A value that is none of these, or one of these three
          without [TURSO_SYNCED_PATH] for a remote URL, is a [`Config] error
          that names the variable (a typo never leaves an app silently not
          pushing);
        - [TURSO_ENCRYPTION_KEY]: the encryption key of a local file or of
          a replica's file ({!open_local}); with a synced database or a
          remote one without a replica, a [`Config] error (it would encrypt
          nothing). Never printed.

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

    val execute : ?params:Params.t -> t -> (int64, Error.t) result io
    (** Runs the statement to its end; returns the rows changed. *)

    val execute_many : t -> Value.t list list -> (int64, Error.t) result io
    (** Runs the statement once per positional parameter set, in one call
        across the boundary and all or nothing (inside a transaction, or a
        savepoint when a transaction is open). Returns the rows changed in
        total. The error of a failing set names its index. *)

    val query : ?params:Params.t -> t -> (Rows.t, Error.t) result io
    (** Starts a query; the previous result set of this statement, if still
        being read, is invalidated. *)

    val query_one : ?params:Params.t -> t -> (Row.t option, Error.t) result io
    (** The first row, if any, in one call across the boundary; the
        statement is reset right after it (the rest is not read; a remote
        server sends the whole result, never streamed: add [LIMIT 1] to a
        large one). *)

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

    val execute : ?params:Params.t -> t -> string -> (int64, Error.t) result io
    (** Runs one statement; returns the rows changed. Text holding more than
        one statement is a [`Misuse] error (use {!batch}); rows a statement
        returns are discarded. *)

    val query : ?params:Params.t -> t -> string -> (Rows.t, Error.t) result io
    (** Runs one statement and streams its rows. *)

    val query_list : ?params:Params.t -> t -> string -> (Row.t list, Error.t) result io
    (** Runs one statement and returns all its rows. *)

    val query_one : ?params:Params.t -> t -> string -> (Row.t option, Error.t) result io
    (** The first row, if any; the rest is not read. *)

    val fold :
      ?params:Params.t -> t -> string -> init:'a -> f:('a -> Row.t -> 'a) ->
      ('a, Error.t) result io
    (** Streams the rows into [f], one chunk across the boundary at a time. *)

    val iter : ?params:Params.t -> t -> string -> f:(Row.t -> unit) -> (unit, Error.t) result io
    (** As {!fold}, for effects. *)

    val query_map :
      ?params:Params.t -> t -> string -> f:(Row.t -> ('a, Error.t) result) -> ('a list, Error.t) result io
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

    val run : ?params:Params.t -> t -> string -> (Result_set.t, Error.t) result io
    (** Runs one statement and returns its whole result: rows, column names
        and declared types, rows changed, inserted rowid. *)

    type batch_mode = [ `Write | `Read | `Deferred ]

    val batch_list :
      ?mode:batch_mode -> t -> (string * Params.t) list -> (Result_set.t list, Error.t) result io
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

    val describe : t -> string -> (Shape.t, Error.t) result io
    (** The statement's parameters and result columns (declared types,
        origin table and column, [NOT NULL]), as SQLite reports them after
        preparing it; the statement is not run. What [let%query] checks
        against at compile time. Local connections only (a [`Misuse] error
        otherwise); an invalid statement is the [`Sql] error preparing it
        gives. *)
  end

  module Tx : sig
    (** An interactive transaction as a value. *)

    type t

    val begin_ : ?behavior:Conn.behavior -> Conn.t -> (t, Error.t) result io
    (** Begins a transaction ([`Deferred] by default). A [`Misuse] error if
        one is already open on the connection. *)

    val execute : ?params:Params.t -> t -> string -> (int64, Error.t) result io
    (** {!Conn.execute} inside the transaction. *)

    val query : ?params:Params.t -> t -> string -> (Row.t list, Error.t) result io
    (** {!Conn.query_list} inside the transaction. *)

    val run : ?params:Params.t -> t -> string -> (Result_set.t, Error.t) result io
    (** {!Conn.run} inside the transaction. *)

    val batch : t -> (string * Params.t) list -> (Result_set.t list, Error.t) result io
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
      [on_retry] is told about each retry before its wait. An [attempts]
      below 1, or a delay that is not a finite number of seconds from 0
      to 1,000,000, is a [`Misuse] error and [f] is not run.

      Only retry what is safe to run twice: a write that timed out may
      have reached the server. *)

  module Pool : sig
    (** Up to [size] connections to one database, handed out per call:
        {[
          let pool = ok_exn (Pool.create ~size:4 db) in
          let* n = Pool.use pool (fun c -> Conn.query_one c "SELECT count(*) FROM t") in
          let* () = Pool.with_transaction pool (fun c -> ... (* all on one connection *)) in ...
        ]}
        Connections are made when first needed and kept. A call waits up
        to [max_wait] seconds for a free one, then gets a [`Busy] error
        that says so. A connection goes back to the pool after the call,
        whatever happened: if the call left a transaction open (an error,
        an exception, a [BEGIN] without its end), it is rolled back first;
        a connection that no longer works (closed, or the rollback failed)
        is closed and replaced by a new one on a later call. Threads
        (blocking API) or promises (Lwt) may share a pool; calls on
        different connections run in parallel (on a local file in WAL
        mode, readers do; on a server, requests are in flight at once). *)

    type t

    val create : ?size:int -> ?max_wait:float -> ?busy_timeout:float -> Db.t -> (t, Error.t) result
    (** [size]: connections at most (default 4, from 1 to 1,000);
        [max_wait]: seconds a call waits for a free connection (default
        5); [busy_timeout]: each connection's (as {!Conn.connect}). A
        [`Misuse] error for a size or duration out of range. *)

    val use : t -> (Conn.t -> ('a, Error.t) result io) -> ('a, Error.t) result io
    (** [use pool f] runs [f] on a free connection (waiting for one up to
        [max_wait]), then gives it back. An exception from [f] passes
        through, after the connection went back. [f] must not keep the
        connection (or its statements) past its end. *)

    val with_transaction :
      ?behavior:Conn.behavior -> t -> (Conn.t -> ('a, Error.t) result io) -> ('a, Error.t) result io
    (** [use] and {!Conn.with_transaction}: the transaction is on one
        connection, from its beginning to its commit or rollback. *)

    val size : t -> int
    (** The most connections the pool makes. *)

    val idle : t -> int
    (** Connections made and free now. *)

    val close : t -> unit io
    (** Closes the free connections; each one in use is closed when its
        call ends. Later calls get a [`Closed] error. *)
  end

  module Migrate : sig
    (** Migrations: numbered SQL scripts applied in order, each once, and
        recorded in the database (table [turso_migrations]: version, name,
        checksum, time applied).

        {[
          let* ms = Migration.of_dir "migrations" |> Io.return in  (* 0001_init.sql, ... *)
          let* applied = Migrate.run conn ms in ...
        ]} *)

    type applied = { version : int; name : string; checksum : string; applied_at : float }
    (** A migration the database has ([applied_at]: Unix time). *)

    type status = { current : int option; applied : applied list; pending : Migration.t list }
    (** [current]: the highest version applied, if any. *)

    val status : Conn.t -> Migration.t list -> (status, Error.t) result io
    (** What {!run} would apply, after the same checks; changes nothing
        (not even the table). *)

    val run : Conn.t -> Migration.t list -> (Migration.t list, Error.t) result io
    (** Applies the migrations the database does not have yet, in order,
        each in its own immediate transaction with its record: a migration
        is there whole or not at all. Returns those it applied.

        Checked first (a [`Config] error, nothing applied): a version twice
        in the list; an applied migration whose SQL changed since (named,
        with both checksums); an applied migration missing from the list;
        a new migration numbered below one already applied (give it a
        higher number).

        A migration that fails rolls back and stops the run: the error
        (its own kind: [`Sql], [`Constraint] ...) names the migration and
        the statement, and the database stays at the version before it.

        Several processes may run the same migrations at once: each
        migration's transaction checks again, under its write lock,
        whether another process applied it meanwhile, so none applies
        twice; a process that finds the lock taken waits (busy timeout on
        a file; on a remote database a [`Busy] answer is tried again for
        up to about 10 s).

        Works on every mode: local files, remote databases, embedded
        replicas (the statements go to the primary; read-your-writes then
        shows them) and synced databases (applied to the local file; the
        next push sends them). A migration must not contain [BEGIN],
        [COMMIT] or [ROLLBACK]: it already runs in a transaction (such a
        statement is a [`Misuse] error, and nothing of the migration
        stays). *)
  end

  module Query : sig
    (** Runs typed statements ({!Query.t}): what [let%query] (library
        [turso.ppx]) generates, checked against the schema at compile time:
        {[
          [%%migrations "migrations"]
          let%query find_user = "SELECT id, name FROM users WHERE id = :id"
          (* find_user : id:int -> find_user Query.t, a record type
             { id : int; name : string } *)
          let* u = Query.one conn (find_user ~id:1) in ...
        ]}
        The call chooses how many rows: {!one}, {!opt}, {!list}, {!fold}
        and {!iter} (these two stream), {!exec}. Each connection keeps the
        statements it prepared for them (by SQL, up to 64), so a query
        called again is not prepared again; a statement in use by one call
        is not shared with another (threads or Lwt promises on one
        connection each get their own). A row that does not decode (the
        database's schema is not the one the query was checked against)
        is a [`Decode] error naming the column. *)

    type 'a t = 'a Query.t

    val make : sql:string -> ?params:Params.t -> (Row.t -> ('a, Error.t) result) -> 'a t
    (** {!Query.make}: a statement and its row decoder. *)

    val one : Conn.t -> 'a t -> ('a, Error.t) result io
    (** The first row: a [`Decode] error if there is none (use {!opt}). *)

    val opt : Conn.t -> 'a t -> ('a option, Error.t) result io
    (** The first row, if any. *)

    val list : Conn.t -> 'a t -> ('a list, Error.t) result io
    (** All the rows. *)

    val fold : Conn.t -> 'a t -> init:'b -> f:('b -> 'a -> 'b) -> ('b, Error.t) result io
    (** Folds over the rows as they stream (a large result is never held
        whole). If [f] raises, the result set is closed and the exception
        passes through. *)

    val iter : Conn.t -> 'a t -> f:('a -> unit) -> (unit, Error.t) result io
    (** Calls [f] on each row as it streams, as {!fold}. *)

    val exec : Conn.t -> _ t -> (int64, Error.t) result io
    (** Runs the statement to its end; the rows changed. *)

    (**/**)

    val in_order : sql:string -> string array -> Value.t list -> (Row.t -> ('a, Error.t) result) -> 'a t
    (** What [let%query] generates (named parameters in index order). *)
  end
end
