(** SQLite values: the five storage classes, built, compared and printed. *)

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
