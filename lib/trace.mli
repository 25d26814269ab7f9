(** What the library does, reported through [Logs] (source ["turso"]): an
    app sees each statement, its duration and its mode, and can log slow
    ones, without wrapping any call.

    - Debug: one message per statement: the mode, the SQL folded to one
      line and cut at 200 bytes, the duration, and the rows changed or
      returned (or ["streamed"] for a result set read later), or the
      error. Parameters as their count and types; their values only after
      [set_show_params true].
    - Info: each push, pull, sync and checkpoint, with what it did and its
      duration, or its error.
    - Warning: each retry of {!Turso.retry} (the error and the delay), and
      each statement slower than {!set_slow} (Warning is [Logs]' default
      level, so these show as soon as a reporter is set).

    Nothing is reported until the app sets a reporter
    ([Logs.set_reporter (Logs_fmt.reporter ())]) and, for statements, the
    level ([Logs.Src.set_level Trace.src (Some Logs.Debug)], or
    [Logs.set_level]); the CLI's [--verbose] does both. With the source
    below Debug and no slow threshold, a statement costs one level check
    and no clock reading (the lookup benchmark measures it). Auth tokens
    and URLs' tokens never appear; syncs made in the background (replica
    [sync_interval], synced [push_interval] ...) are counted in
    {!Turso.Stats}, not logged. *)

val src : Logs.src
(** ["turso"]. *)

val set_slow : float option -> unit
(** [set_slow (Some s)]: a statement that takes [s] seconds or more is a
    warning (with its SQL, mode and duration) instead of a debug message.
    Default [None].
    @raise Invalid_argument for a negative or NaN [s]. *)

val set_show_params : bool -> unit
(** [true]: debug messages show parameter values (text and blobs cut at
    40 bytes). Default [false]: values may be secrets or personal data, so
    only their count and types are shown. *)

(**/**)

(* For Api: the calls that report. *)

val on : unit -> bool
(** Statements are traced: the source is at Debug or a slow threshold is set. *)

val now : unit -> float

type outcome = Changed of int64 | Returned of int | Streamed | Done | Failed of Error.t

val statement : mode:string -> sql:string -> params:Params.t option -> float -> outcome -> unit
(** [statement ~mode ~sql ~params started outcome]. *)

val sync : mode:string -> string -> float -> (string, Error.t) result -> unit
(** [sync ~mode what started result]. *)

val retry : attempt:int -> attempts:int -> delay:float -> Error.t -> unit

val fold : string -> string
(** The SQL on one line, cut at 200 bytes (on a character boundary). *)
