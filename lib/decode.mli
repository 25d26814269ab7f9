(** Converters from {!Value.t} to OCaml values, and decoders of rows.
    This is the runtime of the [turso.ppx] deriver ([[@@deriving turso]]),
    and what a hand-written decoder can use too. Decoding never raises: a
    value of the wrong type is an error of kind [`Decode] that names the
    column, the expected type and what was found. *)

type 'a conv
(** How to read one value as an ['a]. *)

val int : int conv
(** [INTEGER] that fits an OCaml [int] (63 bits on 64-bit systems). *)

val int32 : int32 conv
(** [INTEGER] in the [int32] range. *)

val int64 : int64 conv
(** [INTEGER]. *)

val float : float conv
(** [REAL], or [INTEGER] (converted). *)

val bool : bool conv
(** [INTEGER] [0] or [1] (anything else is an error). *)

val string : string conv
(** [TEXT]. *)

val bytes : bytes conv
(** [BLOB]. *)

val value : Value.t conv
(** Any value, as is. *)

val option : 'a conv -> 'a option conv
(** [NULL] is [None]; anything else is read with the given converter. *)

val custom : expected:string -> (Value.t -> ('a, string) result) -> 'a conv
(** A converter from a function; its [Error] message (and any exception it
    raises) becomes the decode error. [expected] names the SQL type. *)

val get : Row.t -> string -> 'a conv -> ('a, Error.t) result
(** [get row column conv] reads the column of that name. A missing column
    is an error. *)

val nth : Row.t -> int -> 'a conv -> ('a, Error.t) result
(** [nth row i conv] reads column [i] (from 0). *)

(**/**)

(* Used by the code that [turso.ppx] generates. *)
exception Mismatch

type check

val check : 'a conv -> check

type layout

val layout : string array -> check array -> bool array -> layout
val resolve : layout -> Row.t -> int array
val value_at : Row.t -> int array -> int -> Value.t
val present : int array -> int -> bool
val read : 'a conv -> Value.t -> 'a
val to_int : int64 -> int
val to_int32 : int64 -> int32
val diagnose : layout -> Row.t -> int array -> Error.t
val at : Row.t -> int -> 'a conv -> 'a
val diagnose_at : Row.t -> check array -> Error.t
