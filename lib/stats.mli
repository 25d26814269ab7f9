(** What a database has done since it was opened ({!Turso.Db.stats}). *)

type mode = [ `File | `Memory | `Remote | `Replica | `Synced ]

type synced = {
  pending_changes : int64;  (** local changes not pushed yet *)
  last_push_at : float option;  (** when the last push succeeded (Unix time) *)
  last_pull_at : float option;  (** when the last pull succeeded (Unix time) *)
  bytes_sent : int64;  (** to the server, since opening *)
  bytes_received : int64;  (** from the server, since opening *)
  wal_size : int64;  (** the write-ahead log's size, in bytes (see {!Turso.Db.checkpoint}) *)
  revision : string option;  (** the server's revision the file is at *)
}
(** What a synced database's engine says of its sync. *)

type t = {
  mode : mode;
  statements : int64;
    (** statements run through this database's connections: each
        statement of a batch or script and each parameter set of
        [execute_many] counts *)
  requests : int64;
    (** HTTP requests this library sent to the server (remote, replica;
        0 for a local file): a statement, a batch, a script or a whole
        [execute_many] is one, whatever its size. libsql's own requests
        for a replica's syncs are not counted here: see [syncs]. *)
  syncs : int;  (** syncs that succeeded: {!Turso.Db.sync} and periodic ones *)
  failed_syncs : int;
  frames_synced : int64;  (** frames those syncs applied, in total *)
  frame_no : int64 option;  (** the replica's current frame number *)
  last_sync_at : float option;  (** when the last sync started (Unix time) *)
  last_sync_duration : float option;  (** how long it took, in seconds *)
  last_sync_error : string option;
    (** the error of the last sync, if it failed ([None] once one succeeds) *)
  synced : synced option;  (** a synced database's figures ([None] for the others) *)
}
(** Sync figures count the syncs this library runs (manual and
    [sync_interval]); the catch-up syncs libSQL makes by itself for
    read-your-writes are not counted, but show in [frame_no]. Nothing here
    holds the auth token. *)

val mode_to_string : mode -> string
(** ["file"], ["memory"], ["remote"], ["replica"], ["synced"]. *)

val to_list : t -> (string * string) list
(** Field names and printed values (times in UTC, ISO 8601; ["-"] for
    none), in the order of the record. *)

val pp : Format.formatter -> t -> unit
(** One field per line, as {!to_list}. *)

(**/**)

val decode : string -> t
(** From the stub's reply (rust/src/stats.rs writes it). *)
