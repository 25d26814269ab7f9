(** Which database to open: what {!Turso.Db.of_env} reads from the
    environment, or what a program builds itself. *)

type t =
  | Local of { path : string; encryption_key : string option }
      (** a path, [":memory:"] or a [file:] URI; encrypted at rest with the
          key if one is given ({!Turso.Db.open_local}) *)
  | Remote of { url : string; auth_token : string }
  | Replica of { path : string; url : string; auth_token : string; encryption_key : string option }
  | Synced of {
      path : string;
      url : string;
      auth_token : string;
      push_interval : float option;
      pull_interval : float option;
      auto_push : bool;
    }
      (** a synced database (Turso engine) and its background work:
          {!Turso.Db.open_synced} *)

val local : ?encryption_key:string -> string -> t
(** [Local], with no key unless given. *)

val synced :
  ?push_interval:float -> ?pull_interval:float -> ?auto_push:bool -> path:string -> url:string -> auth_token:string ->
  unit -> t
(** A [Synced] configuration, with no background work unless asked (as
    {!Turso.Db.open_synced}). *)

val of_env : ?env_file:string -> unit -> (t, Error.t) result
(** The configuration the environment names (see {!Turso.Db.of_env} for the
    variables and the [.env] file). Reads the file; opens nothing. *)

val default_replica_path : string
(** ["turso-replica.db"]. *)

val to_string : t -> string
(** A description for people, e.g. ["embedded replica r.db of
    libsql://x.turso.io, auth token set (243 characters)"]: the token is
    never shown, only whether it is set and its length; an encryption key
    only as ["(encrypted, key set)"]. *)

val pp : Format.formatter -> t -> unit
(** Prints {!to_string}. *)

(**/**)

(* For Compat: the environment as Config reads it. *)
type env

val env : ?env_file:string -> unit -> env
val var : env -> string -> string option

val background : env -> (float option * float option * bool, Error.t) result
(** TURSO_PUSH_INTERVAL, TURSO_PULL_INTERVAL and TURSO_AUTO_PUSH. *)

type mode = [ `Local | `Remote | `Replica | `Synced ]

val misplaced : env -> mode -> Error.t option
(** A variable set that this mode does not use (TURSO_ENCRYPTION_KEY, the
    background ones), as [of_env] refuses it. *)

val redact_url : string -> string
(** The URL with an [authToken] query parameter's value hidden. *)

val scheme : string -> string option
(** The scheme of ["scheme://..."], lowercase, if the text has one. *)
