(** A migration: one step of a database's schema, numbered, named and
    checksummed. {!Turso.Migrate} applies them; this module reads them. *)

type t = private {
  version : int;  (** its number: migrations apply in increasing order *)
  name : string;  (** e.g. ["add_users"] *)
  sql : string;  (** the statements, run as a script *)
  checksum : string;  (** of [sql] (MD5, hex): a change after it was applied is an error *)
}

val make : version:int -> name:string -> string -> t
(** A migration given in code. *)

val of_dir : string -> (t list, Error.t) result
(** The migrations of a directory: each file [NNNN_name.sql] (digits, an
    underscore, a name) is one, in increasing [NNNN]. Files not ending in
    [.sql] are ignored; a [.sql] file whose name does not have that shape,
    two files with one number, or a directory that cannot be read is a
    [`Config] error that names it (a misnamed migration is never skipped
    silently). *)

val sorted : t list -> (t list, Error.t) result
(** The list in increasing version; a version given twice, or one below 0,
    is a [`Config] error. *)

val label : t -> string
(** ["0002_add_email"]: how errors and the CLI name it. *)
