(** The byte format shared with [rust/src/wire.rs] (internal). *)

type value = Null | Integer of int64 | Real of float | Text of string | Blob of string

type error_kind =
  [ `Sql | `Constraint | `Busy | `Auth | `Network | `Timeout | `Sync | `Closed
  | `Decode | `Config | `Misuse | `Internal | `Transaction_closed ]

type error = {
  kind : error_kind;
  code : int option;
  message : string;
  sql : string option;
}

val encode_params :
  [ `Positional of value list | `Named of (string * value) list ] option -> string
(** [None] encodes "no parameters". *)

val encode_param_sets : value list list -> string
(** Several positional parameter sets, for [execute_many]. *)

val is_ok : string -> bool
val decode_error : string -> error
(** Decodes an error reply (or an [Error] payload of a handle call). *)

val int64_at : string -> int -> int64
(** [int64_at reply off] reads an i64 at byte [off] of an OK reply. *)

(** A query reply being read. *)
type cursor = {
  generation : int;
  names : string array;
  decltypes : string option array;
  mutable chunk : string;
  mutable pos : int;
  mutable remaining : int;  (** rows left in [chunk] *)
  mutable done_ : bool;     (** no chunk follows [chunk] *)
}

type header = { names : string array; decltypes : string option array }

val decode_query : string -> header option -> cursor * header
(** The first chunk of an OK [stmt_query] reply, and its column header:
    the one in the reply, or the cached one given when the reply has none. *)

val next_chunk : cursor -> string -> unit
(** Installs an OK [stmt_fetch] reply as the current chunk. *)

val decode_row : cursor -> value array
(** Decodes the next row of the current chunk; [remaining] must be > 0. *)

val string_list : string -> string list
(** A u32 count, then each string (u32 length, bytes): [sql_split]'s reply. *)

val iter_completions : string -> (int -> string -> unit) -> unit
(** Calls [f id reply] for each completion in an [async_take] result. *)

(** A statement's whole result ([conn_run], [conn_batch_list]). *)
type result = {
  r_names : string array;
  r_decltypes : string option array;
  r_rows : value array list;
  r_changes : int64;
  r_rowid : int64 option;
}

val decode_run : string -> result
(** An OK [conn_run] reply. *)

val decode_batch : string -> result list
(** An OK [conn_batch_list] reply. *)

val encode_batch :
  int -> (string * [ `Positional of value list | `Named of (string * value) list ] option) list -> string
(** [encode_batch mode stmts]: mode 0 deferred, 1 write, 2 read. *)
