(** Errors: what went wrong, SQLite's code for it, and the SQL that failed. *)

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
    - [`Transaction_closed]: a {!Turso.Tx.t} was used after its commit,
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
(** One line: kind, message, code name and SQL. Whitespace (newlines
    included) is folded to single spaces, and an SQL text longer than 200
    bytes is cut, with ["..."] (the whole text stays in [sql]). Never
    contains an auth token. *)

val pp : Format.formatter -> t -> unit
(** Prints {!to_string}. *)

exception E of t
(** Raised by {!Turso.ok_exn} and the [_exn] functions. *)
