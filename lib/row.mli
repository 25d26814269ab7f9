(** Result rows: column names and values. *)

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

(**/**)

(* For the library itself: rows are built from the boundary's replies, and
   decoders read the values without a copy. *)
val make : string array -> Value.t array -> t
val unsafe_values : t -> Value.t array
val index : t -> string -> int
