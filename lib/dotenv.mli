(** [.env] files, as Config reads them (internal). *)

val parse : string -> (string * string) list
(** The [KEY=VALUE] pairs of a file's text, in order. *)

val read_file : string -> (string * string) list option
(** The pairs of a file; [None] if it cannot be read. *)
