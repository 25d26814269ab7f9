(* Owns the checks on the caller's numbers that every operation shares:
   durations and sizes, each refused with a Misuse error that names it. *)

(* Durations given by the caller: finite, not negative (or, for a timeout,
   positive), and at most about 11 days, so that they fit every clock and
   integer they are converted to (SQLite takes its busy timeout as a C int
   of milliseconds). The first bad one is a Misuse error naming it. *)
let max_duration = 1e6

let bad_durations checks =
  List.find_map
    (fun (what, v, positive) ->
      if Float.is_finite v && (if positive then v > 0. else v >= 0.) && v <= max_duration then None
      else
        Some
          (Error.make `Misuse
             (Printf.sprintf "%s must be a finite number of seconds, %s and at most %.0f (got %g)" what
                (if positive then "more than 0" else "0 or more") max_duration v)))
    checks

(* The largest server reply read (see Db.open_remote). *)
let default_max_reply = 128 * 1024 * 1024

let bad_max_reply what n =
  if n >= 1 then None
  else Some (Error.make `Misuse (Printf.sprintf "%s: max_reply_size must be 1 or more bytes (got %d)" what n))

let bad_attempts n =
  if n >= 1 then None
  else Some (Error.make `Misuse (Printf.sprintf "retry: attempts must be 1 or more (got %d)" n))

(* Checked first, so always finite and within range. *)
let ms seconds = Int64.of_float (Float.round (seconds *. 1000.))
