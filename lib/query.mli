(** A typed statement: its SQL, its parameters, and how a row becomes an
    OCaml value. [let%query] (library [turso.ppx]) builds one, checked
    against the schema at compile time; {!Turso.Query} runs it (blocking
    or Lwt alike: the value does not depend on the fiber). *)

type 'a t
(** A statement whose rows decode to ['a]. *)

val make : sql:string -> ?params:Params.t -> (Row.t -> ('a, Error.t) result) -> 'a t
(** [make ~sql ?params decode]. Written by the ppx; by hand it is a
    statement with its decoder, e.g. [make ~sql:"SELECT name FROM users"
    (fun r -> Decode.nth r 0 Decode.string)]. *)

val sql : _ t -> string
val params : _ t -> Params.t option
val decode : 'a t -> Row.t -> ('a, Error.t) result

(**/**)

val in_order : sql:string -> string array -> Value.t list -> (Row.t -> ('a, Error.t) result) -> 'a t
(** [in_order ~sql names values decode]: named parameters, one per index
    of the statement, in index order (what [let%query] generates): bound
    by position where the engine allows, by name elsewhere. *)

val params_for : by_position:bool -> 'a t -> Params.t option
