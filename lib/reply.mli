(** The stub's replies as results (internal). *)

val err_of_reply : string -> ('a, Error.t) result
(** The error an error reply carries. *)

val unit_of_reply : string -> (unit, Error.t) result
(** A reply that carries nothing but success or an error. *)

val int64_of_reply : string -> (int64, Error.t) result
(** A reply that carries one integer. *)

val handle_of_result : ('h, string) result -> ('h, Error.t) result
(** A handle, or the error reply in its place. *)
