(** Checks of durations and sizes given by the caller (internal). *)

val max_duration : float
(** The longest duration accepted, in seconds (about 11 days). *)

val bad_durations : (string * float * bool) list -> Error.t option
(** [bad_durations [(what, seconds, positive); ...]]: the error for the first
    duration that is not finite, is negative (or 0 when [positive]), or is
    over {!max_duration}. *)

val default_max_reply : int
(** The largest server reply read by default: 128 MiB. *)

val bad_max_reply : string -> int -> Error.t option
(** The error for a [max_reply_size] below 1. *)

val bad_attempts : int -> Error.t option
(** The error for a number of attempts below 1. *)

val ms : float -> int64
(** Seconds (already checked) as whole milliseconds. *)
