(** SQL text as SQLite reads it (internal; the scanner is
    [rust/src/sql.rs]). None of these needs a database. *)

val is_read_only : string -> bool
(** The statement only reads: it starts with SELECT, VALUES or WITH and
    names none of INSERT, UPDATE, DELETE, REPLACE outside literals, quoted
    identifiers and comments. *)

val is_complete : string -> bool
(** The text ends with a complete statement ([sqlite3_complete]): a [;]
    outside literals, comments and a trigger's body. *)

val split : string -> string list
(** A script's statements as SQLite splits them, trimmed, without their
    final [;]. *)
