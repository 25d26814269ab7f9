(** A statement's shape as SQLite reports it after preparing it
    ({!Turso.Conn.describe}): its parameters and result columns. What
    [let%query] checks queries against at compile time. *)

type column = {
  name : string;  (** as the result names it *)
  decltype : string option;  (** the declared type of the column it comes from *)
  table : string option;  (** the table of that column; [None] for an expression *)
  origin : string option;  (** that column's name in its table *)
  not_null : bool;  (** the column is declared [NOT NULL] *)
  primary_key : bool;  (** the column is (part of) the primary key *)
}

type t = {
  read_only : bool;  (** the statement does not write *)
  parameters : string option array;
      (** by index (from 1 in SQL, from 0 here): the name with its prefix
          ([":id"], ["?2"]), [None] for a bare [?] *)
  columns : column array;  (** empty for a statement that returns no rows *)
}

(**/**)

val decode : string -> t
(** The stub's describe reply (OK byte, then a string list). *)
