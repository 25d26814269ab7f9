(* Owns a database's statistics: the record, its decoding from the reply
   the Rust side builds (rust/src/stats.rs: keep the offsets in step), and
   how it prints. *)

type mode = [ `File | `Memory | `Remote | `Replica | `Synced ]

type synced = {
  pending_changes : int64;
  last_push_at : float option;
  last_pull_at : float option;
  bytes_sent : int64;
  bytes_received : int64;
  wal_size : int64;
  revision : string option;
}

type t = {
  mode : mode;
  statements : int64;
  requests : int64;
  syncs : int;
  failed_syncs : int;
  frames_synced : int64;
  frame_no : int64 option;
  last_sync_at : float option;
  last_sync_duration : float option;
  last_sync_error : string option;
  synced : synced option;
}

let mode_to_string = function
  | `File -> "file"
  | `Memory -> "memory"
  | `Remote -> "remote"
  | `Replica -> "replica"
  | `Synced -> "synced"

let decode r =
  let i64 off = Wire.int64_at r off in
  let opt off = let v = i64 off in if v < 0L then None else Some v in
  let error, after_error =
    if r.[66] = '\000' then (None, 67)
    else
      let n = Int32.to_int (String.get_int32_le r 67) in
      (Some (String.sub r 71 n), 71 + n)
  in
  {
    mode =
      (match r.[1] with '\000' -> `File | '\001' -> `Memory | '\002' -> `Remote | '\003' -> `Replica | _ -> `Synced);
    statements = i64 2;
    syncs = Int64.to_int (i64 10);
    failed_syncs = Int64.to_int (i64 18);
    frames_synced = i64 26;
    frame_no = opt 34;
    last_sync_at = Option.map (fun ms -> Int64.to_float ms /. 1000.) (opt 42);
    last_sync_duration = Option.map (fun us -> Int64.to_float us /. 1e6) (opt 50);
    requests = i64 58;
    last_sync_error = error;
    synced =
      (* after the error: u8 1, six i64, the revision (rust/src/engine/synced.rs) *)
      (if String.length r <= after_error || r.[after_error] = '\000' then None
       else
         let at k = i64 (after_error + 1 + (8 * k)) in
         let time k = Option.map (fun ms -> Int64.to_float ms /. 1000.) (opt (after_error + 1 + (8 * k))) in
         let rev_at = after_error + 49 in
         let rev = String.sub r (rev_at + 4) (Int32.to_int (String.get_int32_le r rev_at)) in
         Some
           { pending_changes = at 0; last_push_at = time 1; last_pull_at = time 2; bytes_sent = at 3;
             bytes_received = at 4; wal_size = at 5; revision = (if rev = "" then None else Some rev) });
  }

let to_list s =
  let opt f = function None -> "-" | Some x -> f x in
  let time t =
    let tm = Unix.gmtime t in
    Printf.sprintf "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" (tm.tm_year + 1900) (tm.tm_mon + 1) tm.tm_mday
      tm.tm_hour tm.tm_min tm.tm_sec (int_of_float (Float.rem t 1. *. 1000.))
  in
  [ ("mode", mode_to_string s.mode); ("statements", Int64.to_string s.statements);
    ("requests", Int64.to_string s.requests); ("syncs", string_of_int s.syncs); ("failed_syncs", string_of_int s.failed_syncs);
    ("frames_synced", Int64.to_string s.frames_synced); ("frame_no", opt Int64.to_string s.frame_no);
    ("last_sync_at", opt time s.last_sync_at);
    ("last_sync_duration", opt (Printf.sprintf "%.3fs") s.last_sync_duration);
    ("last_sync_error", opt Fun.id s.last_sync_error) ]
  @
  match s.synced with
  | None -> []
  | Some y ->
    [ ("pending_changes", Int64.to_string y.pending_changes); ("last_push_at", opt time y.last_push_at);
      ("last_pull_at", opt time y.last_pull_at); ("bytes_sent", Int64.to_string y.bytes_sent);
      ("bytes_received", Int64.to_string y.bytes_received); ("wal_size", Int64.to_string y.wal_size);
      ("revision", opt Fun.id y.revision) ]

let pp ppf s =
  Format.fprintf ppf "@[<v>%a@]"
    (Format.pp_print_list (fun ppf (k, v) -> Format.fprintf ppf "%-19s %s" k v))
    (to_list s)
