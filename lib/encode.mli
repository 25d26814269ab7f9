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
