(* Owns the operations, written once over the fiber (Api_intf.IO): the
   blocking API (Blocking) and the Lwt one (turso.lwt) are this functor
   applied to their fiber. Each operation calls the Rust stub through Ffi
   with arguments and replies in the Wire format, and turns the reply into
   a typed result. Policy (transactions, savepoints, retries, streaming in
   chunks) lives here; the stub only runs the engine. *)

open Reply
open Limits

(* Rows per chunk when streaming; a chunk is also capped at 256 KiB. *)
let chunk_rows = 256

module Smap = Map.Make (String)

module Make (Fiber : Api_intf.IO) : Api_intf.S with type 'a io = 'a Fiber.t = struct
  type 'a io = 'a Fiber.t

  let ( >>= ) = Fiber.bind
  let ( >|= ) x f = Fiber.bind x (fun v -> Fiber.return (f v))

  let call_unit sync async = Fiber.call sync async >|= unit_of_reply
  let call_int64 sync async = Fiber.call sync async >|= int64_of_reply
  let call_handle sync async take = Fiber.call_handle sync async take >|= handle_of_result

  (* [k ()], unless a check of the caller's arguments failed (Limits). *)
  let checked errs k = match List.find_map Fun.id errs with Some e -> Fiber.return (Error e) | None -> k ()

  (* A statement, traced when tracing is on (Trace): else one check. *)
  let traced ~mode ~sql ~params f outcome =
    if not (Trace.on ()) then f ()
    else
      let t0 = Trace.now () in
      f () >|= fun r ->
      Trace.statement ~mode ~sql ~params t0 (match r with Ok x -> outcome x | Error e -> Trace.Failed e);
      r

  (* A push, pull, sync or checkpoint: always reported (info). *)
  let synced_op ~mode what f said =
    let t0 = Trace.now () in
    f () >|= fun r ->
    Trace.sync ~mode what t0 (Result.map said r);
    r

  module Rows = struct
    type state = Open | Exhausted | Closed

    type t = {
      stmt : Ffi.stmt;
      oneshot : bool;  (** the statement belongs to this result set *)
      cur : Wire.cursor;
      mutable state : state;
      runs : int ref;  (* how often the statement has run ... *)
      run : int;  (* ... when this result set was its latest run *)
    }

    (* Rows already fetched are served from the chunk without a call to
       the stub, so the stub's own generation check cannot see a result set
       whose statement has run again: this one does. *)
    let stale r = r.state <> Closed && !(r.runs) <> r.run

    let invalidated () =
      Error (Error.make `Misuse "this result set was invalidated: its statement was executed again")

    let columns r = r.cur.names
    let decltypes r = r.cur.decltypes
    let close_stmt s = Fiber.call (fun () -> Ffi.stmt_close s) (Ffi.stmt_close_async s) >|= ignore

    let release r =
      if r.oneshot then close_stmt r.stmt
      else if r.state = Open then
        Fiber.call
          (fun () -> Ffi.stmt_reset r.stmt r.cur.generation)
          (Ffi.stmt_reset_async r.stmt r.cur.generation)
        >|= ignore
      else Fiber.return ()

    let close r =
      if r.state = Closed then Fiber.return ()
      else begin
        let release = release r in
        r.cur.remaining <- 0;
        r.state <- Closed;
        release
      end

    let finish r =
      r.state <- Exhausted;
      if r.oneshot then close_stmt r.stmt else Fiber.return ()

    let rec next r =
      let c = r.cur in
      if stale r then Fiber.return (invalidated ())
      else if c.remaining > 0 then Fiber.return (Ok (Some (Row.make c.names (Wire.decode_row c))))
      else
        match r.state with
        | Exhausted -> Fiber.return (Ok None)
        | Closed -> Fiber.return (Error (Error.make `Closed "result set is closed"))
        | Open ->
          if c.done_ then finish r >|= fun () -> Ok None
          else
            Fiber.call
              (fun () -> Ffi.stmt_fetch r.stmt c.generation chunk_rows)
              (Ffi.stmt_fetch_async r.stmt c.generation chunk_rows)
            >>= fun reply ->
            if Wire.is_ok reply then (Wire.next_chunk c reply; next r)
            else finish r >|= fun () -> err_of_reply reply

    let fold r ~init ~f =
      let rec go acc =
        next r >>= function
        | Ok (Some row) -> go (f acc row)
        | Ok None -> Fiber.return (Ok acc)
        | Error e -> Fiber.return (Error e)
      in
      Fiber.on_exn (fun () -> go init) (fun () -> close r)

    let iter r ~f = fold r ~init:() ~f:(fun () row -> f row)
    let to_list r = fold r ~init:[] ~f:(fun acc row -> row :: acc) >|= Result.map List.rev

    let start ~oneshot ?header ?(runs = ref 0) stmt reply =
      if Wire.is_ok reply then begin
        let cur, header = Wire.decode_query reply header in
        let r = { stmt; oneshot; cur; state = Open; runs; run = !runs } in
        if cur.done_ then begin
          (* the whole result came in the first chunk: release it now *)
          r.state <- Exhausted;
          (if oneshot then close_stmt stmt else Fiber.return ()) >|= fun () -> Ok (r, header)
        end
        else Fiber.return (Ok (r, header))
      end
      else (if oneshot then close_stmt stmt else Fiber.return ()) >|= fun () -> err_of_reply reply
  end

  module Db = struct
    (* [mode] names the database in trace messages. *)
    type t = { h : Ffi.db; mode : string }

    let opened mode r = r >|= Result.map (fun h -> { h; mode })
    type open_mode = [ `Read_write_create | `Read_write | `Read_only ]

    (* None and Some "" differ: an empty key is refused, not read as none *)
    let bad_key = function
      | Some "" -> Some (Error.make `Config "the encryption key is empty")
      | _ -> None

    let open_local ?(mode = `Read_write_create) ?encryption_key path =
      let flags = match mode with `Read_write_create -> 0 | `Read_write -> 1 | `Read_only -> 2 in
      checked [ bad_key encryption_key ] @@ fun () ->
      let key = Option.value encryption_key ~default:"" in
      opened "local" @@ call_handle
        (fun () -> Ffi.db_open_local path flags key)
        (Ffi.db_open_local_async path flags key)
        Ffi.take_db

    let open_remote ?(timeout = 10.) ?(max_reply_size = default_max_reply) ~url ~auth_token () =
      checked
        [ bad_durations [ ("Db.open_remote: timeout", timeout, true) ];
          bad_max_reply "Db.open_remote" max_reply_size ]
      @@ fun () ->
      let b = Bytes.create 16 in
      Bytes.set_int64_le b 0 (Int64.max 1L (ms timeout));
      Bytes.set_int64_le b 8 (Int64.of_int max_reply_size);
      let opts = Bytes.unsafe_to_string b in
      opened "remote" @@ call_handle
        (fun () -> Ffi.db_open_remote url auth_token opts)
        (Ffi.db_open_remote_async url auth_token opts)
        Ffi.take_db

    let open_replica ?(sync_interval = 0.) ?(read_your_writes = true) ?(timeout = 10.) ?(sync_timeout = 120.)
        ?(max_reply_size = default_max_reply) ?encryption_key ~path ~url ~auth_token () =
      checked
        [ bad_key encryption_key;
          bad_durations
            [ ("Db.open_replica: sync_interval", sync_interval, false); ("Db.open_replica: timeout", timeout, true);
              ("Db.open_replica: sync_timeout", sync_timeout, true) ];
          bad_max_reply "Db.open_replica" max_reply_size ]
      @@ fun () ->
      let key = Option.value encryption_key ~default:"" in
      let b = Bytes.create (37 + String.length key) in
      Bytes.set_int64_le b 0 (ms sync_interval);
      Bytes.set_int64_le b 8 (Int64.max 1L (ms timeout));
      Bytes.set b 16 (if read_your_writes then '\001' else '\000');
      Bytes.set_int64_le b 17 (Int64.max 1L (ms sync_timeout));
      Bytes.set_int64_le b 25 (Int64.of_int max_reply_size);
      Bytes.set_int32_le b 33 (Int32.of_int (String.length key));
      Bytes.blit_string key 0 b 37 (String.length key);
      let opts = Bytes.unsafe_to_string b in
      opened "replica" @@ call_handle
        (fun () -> Ffi.db_open_replica path url auth_token opts)
        (Ffi.db_open_replica_async path url auth_token opts)
        Ffi.take_db

    let open_synced ?(timeout = 10.) ?long_poll_timeout ?(bootstrap = true) ?(client_name = "") ?push_interval
        ?pull_interval ?(auto_push = false) ~path ~url ~auth_token () =
      let poll = Option.value long_poll_timeout ~default:0. in
      let push_every = Option.value push_interval ~default:0. and pull_every = Option.value pull_interval ~default:0. in
      let bad_url =
        match Config.scheme url with
        | Some ("libsql" | "https" | "http") -> None
        | _ when url = "" -> None (* the engine's Config error says so *)
        | s ->
          Some
            (Error.make `Config
               (Printf.sprintf "Db.open_synced: the URL must start with libsql://, https:// or http:// (%s)"
                  (match s with Some s -> "it starts with " ^ s ^ "://" | None -> "it has no scheme")))
      in
      checked
        [ bad_url;
          bad_durations
            [ ("Db.open_synced: timeout", timeout, true); ("Db.open_synced: long_poll_timeout", poll, false);
              ("Db.open_synced: push_interval", push_every, false); ("Db.open_synced: pull_interval", pull_every, false) ] ]
      @@ fun () ->
      let b = Buffer.create 64 in
      Buffer.add_int64_le b (Int64.max 1L (ms timeout));
      Buffer.add_int64_le b (ms poll);
      Buffer.add_char b (if bootstrap then '\001' else '\000');
      Buffer.add_int32_le b (Int32.of_int (String.length client_name));
      Buffer.add_string b client_name;
      (* an interval under 1 ms is 1 ms (0 means none) *)
      let every f = if f > 0. then Int64.max 1L (ms f) else 0L in
      Buffer.add_int64_le b (every push_every);
      Buffer.add_int64_le b (every pull_every);
      Buffer.add_char b (if auto_push then '\001' else '\000');
      let opts = Buffer.contents b in
      opened "synced" @@ call_handle
        (fun () -> Ffi.db_open_synced path url auth_token opts)
        (Ffi.db_open_synced_async path url auth_token opts)
        Ffi.take_db

    let push { h = db; mode } =
      synced_op ~mode "push" (fun () ->
          Fiber.call (fun () -> Ffi.db_push db) (Ffi.db_push_async db) >|= fun r ->
          if Wire.is_ok r then Ok (Int64.to_int (Wire.int64_at r 1)) else err_of_reply r)
        (fun n -> Printf.sprintf "%d change%s sent" n (if n = 1 then "" else "s"))

    let pull { h = db; mode } =
      synced_op ~mode "pull" (fun () ->
          Fiber.call (fun () -> Ffi.db_pull db) (Ffi.db_pull_async db) >|= fun r ->
          if Wire.is_ok r then Ok (r.[1] <> '\000') else err_of_reply r)
        (fun changed -> if changed then "changes applied" else "nothing new")

    let checkpoint { h = db; mode } =
      synced_op ~mode "checkpoint" (fun () ->
          Fiber.call (fun () -> Ffi.db_checkpoint db) (Ffi.db_checkpoint_async db) >|= fun r ->
          if Wire.is_ok r then Ok () else err_of_reply r)
        (fun () -> "done")

    type sync_info = { frame_no : int64 option; frames_synced : int }

    let sync { h = db; mode } =
      synced_op ~mode "sync" (fun () ->
          Fiber.call (fun () -> Ffi.db_sync db) (Ffi.db_sync_async db) >|= fun r ->
          if Wire.is_ok r then
            let f = Wire.int64_at r 1 in
            Ok { frame_no = (if f < 0L then None else Some f); frames_synced = Int64.to_int (Wire.int64_at r 9) }
          else err_of_reply r)
        (fun i ->
          Printf.sprintf "%d frame%s%s" i.frames_synced (if i.frames_synced = 1 then "" else "s")
            (match i.frame_no with Some f -> Printf.sprintf ", at frame %Ld" f | None -> ""))

    let stats { h = db; _ } =
      Fiber.call (fun () -> Ffi.db_stats db) (Ffi.db_stats_async db) >|= fun r ->
      if Wire.is_ok r then Ok (Stats.decode r) else err_of_reply r

    let close { h = db; _ } = Fiber.call (fun () -> Ffi.db_close db) (Ffi.db_close_async db) >|= ignore

    let open_config ?timeout = function
      | Config.Local { path; encryption_key } -> open_local ?encryption_key path
      | Config.Remote { url; auth_token } -> open_remote ?timeout ~url ~auth_token ()
      | Config.Replica { path; url; auth_token; encryption_key } ->
        open_replica ?timeout ?encryption_key ~path ~url ~auth_token ()
      | Config.Synced { path; url; auth_token; push_interval; pull_interval; auto_push } ->
        open_synced ?timeout ?push_interval ?pull_interval ~auto_push ~path ~url ~auth_token ()

    let of_env ?env_file () =
      match Config.of_env ?env_file () with
      | Error e -> Fiber.return (Error e)
      | Ok c -> open_config c
  end

  module Stmt = struct
    (* The column header is cached here after the first query; the stub
       sends it again only if SQLite re-prepared the statement. *)
    type t = { h : Ffi.stmt; mutable header : Wire.header option; runs : int ref; sql : string; mode : string }

    (* Every run of the statement invalidates the result sets of the runs
       before it (see Rows.stale). *)
    let ran s = incr s.runs

    let make ~sql ~mode h = { h; header = None; runs = ref 0; sql; mode }

    let execute ?params s =
      ran s;
      let p = Params.encode params in
      traced ~mode:s.mode ~sql:s.sql ~params (fun () -> call_int64 (fun () -> Ffi.stmt_execute s.h p) (Ffi.stmt_execute_async s.h p))
        (fun n -> Trace.Changed n)

    let execute_many s sets =
      ran s;
      let p = Wire.encode_param_sets sets in
      traced ~mode:s.mode ~sql:s.sql ~params:None
        (fun () -> call_int64 (fun () -> Ffi.stmt_execute_many s.h p) (Ffi.stmt_execute_many_async s.h p))
        (fun n -> Trace.Changed n)

    let run_query s params max_rows =
      ran s;
      let header = s.header in
      let p = Params.encode params and want = header = None in
      if max_rows = 0 then
        (* one row: turso.lwt may get it at once (Ffi.stmt_query_one_now) *)
        Fiber.call_quick
          (fun () -> Ffi.stmt_query_one_now s.h p want)
          (fun () -> Ffi.stmt_query s.h p 0 want)
          (Ffi.stmt_query_async s.h p 0 want)
      else
        Fiber.call
          (fun () -> Ffi.stmt_query s.h p max_rows want)
          (Ffi.stmt_query_async s.h p max_rows want)

    (* The header the stub sent, or the cached one again (then nothing is
       written: a store into a record is a write barrier per call). *)
    let keep_header s h = match s.header with Some h' when h' == h -> () | _ -> s.header <- Some h

    let query ?params s =
      traced ~mode:s.mode ~sql:s.sql ~params (fun () ->
          run_query s params chunk_rows >>= fun reply ->
          Rows.start ~oneshot:false ?header:s.header ~runs:s.runs s.h reply >|= function
          | Ok (r, h) -> keep_header s h; Ok r
          | Error e -> Error e)
        (fun _ -> Trace.Streamed)

    let query_one ?params s =
      let header = s.header in
      traced ~mode:s.mode ~sql:s.sql ~params (fun () ->
          run_query s params 0 >|= fun reply ->
          if Wire.is_ok reply then begin
            let cur, h = Wire.decode_query reply header in
            keep_header s h;
            if cur.remaining > 0 then Ok (Some (Row.make cur.names (Wire.decode_row cur)))
            else Ok None
          end
          else err_of_reply reply)
        (fun r -> Trace.Returned (if r = None then 0 else 1))

    let parameter_count s =
      call_int64 (fun () -> Ffi.stmt_parameter_count s.h) (Ffi.stmt_parameter_count_async s.h)
      >|= Result.map Int64.to_int

    let reset s =
      ran s;
      call_unit (fun () -> Ffi.stmt_reset s.h (-1)) (Ffi.stmt_reset_async s.h (-1))
    let close s = Rows.close_stmt s.h
  end

  module Conn = struct
    (* [cache]: the statements Query prepared, by SQL, for the next call
       with that SQL. A call takes its statement out of its slot and puts
       it back when done, so two calls at once never share one. Atomics,
       because blocking calls come from several threads: the map of slots
       changes only when a new SQL is seen (copied, swapped in); a call
       otherwise only exchanges its slot, allocating nothing. *)
    type t = {
      h : Ffi.conn;
      mutable savepoints : int;
      mode : string;
      cache : Stmt.t option Atomic.t Smap.t Atomic.t;
      mutable last : string * Stmt.t option Atomic.t;
          (* the slot the last call used, by its SQL string itself: a loop
             that runs one query finds its slot without comparing strings
             (one field, so a reader never sees a SQL with another's slot) *)
      by_position : bool;
          (* the engine binds named parameters to indexes itself (local
             SQLite, the Turso engine): Query gives checked queries' values
             by position, without a lookup by name; servers take names
             only by name *)
    }
    type behavior = [ `Deferred | `Immediate | `Exclusive ]

    let connect ?(busy_timeout = 5.0) db =
      checked [ bad_durations [ ("Conn.connect: busy_timeout", busy_timeout, false) ] ] @@ fun () ->
      let ms = Int64.to_int (ms busy_timeout) in
      call_handle (fun () -> Ffi.db_connect db.Db.h ms) (Ffi.db_connect_async db.Db.h ms) Ffi.take_conn
      >|= Result.map (fun h -> { h; savepoints = 0; mode = db.Db.mode; cache = Atomic.make Smap.empty; last = ("", Atomic.make None);
                              by_position = (match db.Db.mode with "local" | "synced" -> true | _ -> false) })

    let execute ?params c sql =
      let p = Params.encode params in
      traced ~mode:c.mode ~sql ~params (fun () -> call_int64 (fun () -> Ffi.conn_execute c.h sql p) (Ffi.conn_execute_async c.h sql p))
        (fun n -> Trace.Changed n)

    let prepare_raw c sql =
      call_handle (fun () -> Ffi.conn_prepare c.h sql) (Ffi.conn_prepare_async c.h sql) Ffi.take_stmt

    let prepare c sql = prepare_raw c sql >|= Result.map (Stmt.make ~sql ~mode:c.mode)

    (* One call into the stub, so that the query keeps its place among the
       connection's operations (see rust/src/ffi.rs, turso_conn_query_one). *)
    let query ?params c sql =
      let p = Params.encode params in
      traced ~mode:c.mode ~sql ~params (fun () ->
      Fiber.call_with_handle
        (fun () ->
          match Ffi.conn_prepare c.h sql with
          | Error r -> Error r
          | Ok s -> Ok (s, Ffi.stmt_query s p chunk_rows true))
        (Ffi.conn_query_async c.h sql p chunk_rows)
        Ffi.take_stmt
      >>= function
      | Error r -> Fiber.return (err_of_reply r)
      | Ok (s, reply) -> Rows.start ~oneshot:true s reply >|= Result.map fst)
        (fun _ -> Trace.Streamed)

    let fold ?params c sql ~init ~f =
      query ?params c sql >>= function Error e -> Fiber.return (Error e) | Ok r -> Rows.fold r ~init ~f

    let iter ?params c sql ~f = fold ?params c sql ~init:() ~f:(fun () row -> f row)

    let query_list ?params c sql =
      query ?params c sql >>= function Error e -> Fiber.return (Error e) | Ok r -> Rows.to_list r

    let query_map ?params c sql ~f =
      query ?params c sql >>= function
      | Error e -> Fiber.return (Error e)
      | Ok r ->
        let rec go acc =
          Rows.next r >>= function
          | Ok (Some row) -> (
            match f row with
            | Ok x -> go (x :: acc)
            | Error e -> Rows.close r >|= fun () -> Error e)
          | Ok None -> Fiber.return (Ok (List.rev acc))
          | Error e -> Fiber.return (Error e)
        in
        Fiber.on_exn (fun () -> go []) (fun () -> Rows.close r)

    let query_one ?params c sql =
      let p = Params.encode params in
      traced ~mode:c.mode ~sql ~params (fun () ->
          Fiber.call (fun () -> Ffi.conn_query_one c.h sql p) (Ffi.conn_query_one_async c.h sql p) >|= fun reply ->
          if Wire.is_ok reply then
            let cur, _ = Wire.decode_query reply None in
            if cur.remaining > 0 then Ok (Some (Row.make cur.names (Wire.decode_row cur))) else Ok None
          else err_of_reply reply)
        (fun r -> Trace.Returned (if r = None then 0 else 1))

    let batch c sql =
      traced ~mode:c.mode ~sql ~params:None (fun () -> call_unit (fun () -> Ffi.conn_batch c.h sql true) (Ffi.conn_batch_async c.h sql true))
        (fun () -> Trace.Done)
    let script c sql =
      traced ~mode:c.mode ~sql ~params:None (fun () -> call_unit (fun () -> Ffi.conn_batch c.h sql false) (Ffi.conn_batch_async c.h sql false))
        (fun () -> Trace.Done)

    let last_insert_rowid c =
      call_int64 (fun () -> Ffi.conn_last_insert_rowid c.h) (Ffi.conn_last_insert_rowid_async c.h)

    let changes c = call_int64 (fun () -> Ffi.conn_changes c.h) (Ffi.conn_changes_async c.h)

    (* Read now when that needs no waiting (a flag; the pool and
       with_transaction ask on every call); else queued like any call. *)
    let is_autocommit c =
      match Ffi.conn_autocommit_now c.h with
      | 1 -> Fiber.return (Ok true)
      | 0 -> Fiber.return (Ok false)
      | _ ->
        call_int64 (fun () -> Ffi.conn_is_autocommit c.h) (Ffi.conn_is_autocommit_async c.h)
        >|= Result.map (fun i -> i <> 0L)

    let set_busy_timeout c s =
      checked [ bad_durations [ ("Conn.set_busy_timeout", s, false) ] ] @@ fun () ->
      let ms = Int64.to_int (ms s) in
      call_unit (fun () -> Ffi.conn_set_busy_timeout c.h ms) (Ffi.conn_set_busy_timeout_async c.h ms)

    let exec_ c sql = execute c sql >|= Result.map ignore

    let with_transaction ?(behavior = `Deferred) c f =
      is_autocommit c >>= function
      | Error e -> Fiber.return (Error e)
      | Ok autocommit ->
        let begin_sql, commit_sql, rollback_sqls =
          if autocommit then
            let b =
              match behavior with
              | `Deferred -> "BEGIN DEFERRED"
              | `Immediate -> "BEGIN IMMEDIATE"
              | `Exclusive -> "BEGIN EXCLUSIVE"
            in
            (b, "COMMIT", [ "ROLLBACK" ])
          else
            let name = Printf.sprintf "turso_tx_%d" c.savepoints in
            ("SAVEPOINT " ^ name, "RELEASE " ^ name, [ "ROLLBACK TO " ^ name; "RELEASE " ^ name ])
        in
        let leave () = if not autocommit then c.savepoints <- c.savepoints - 1 in
        let rollback () =
          let rec go = function [] -> Fiber.return () | q :: r -> exec_ c q >>= fun _ -> go r in
          go rollback_sqls >|= leave
        in
        exec_ c begin_sql >>= function
        | Error e -> Fiber.return (Error e)
        | Ok () -> (
          if not autocommit then c.savepoints <- c.savepoints + 1;
          Fiber.on_exn (fun () -> f c) rollback >>= function
          | Error e -> rollback () >|= fun () -> Error e
          | Ok v -> (
            exec_ c commit_sql >>= function
            | Ok () -> leave (); Fiber.return (Ok v)
            | Error e -> rollback () >|= fun () -> Error e))

    let run ?params c sql =
      let p = Params.encode params in
      traced ~mode:c.mode ~sql ~params (fun () ->
          Fiber.call (fun () -> Ffi.conn_run c.h sql p) (Ffi.conn_run_async c.h sql p) >|= fun r ->
          if Wire.is_ok r then Ok (Result_set.of_wire (Wire.decode_run r)) else err_of_reply r)
        (fun (r : Result_set.t) ->
          if r.rows = [] && r.rows_affected > 0L then Trace.Changed r.rows_affected else Trace.Returned (List.length r.rows))

    type batch_mode = [ `Write | `Read | `Deferred ]

    let batch_list ?(mode = `Deferred) c stmts =
      let not_read =
        if mode <> `Read then None
        else
          List.find_map
            (fun (i, (sql, _)) -> if Sql.is_read_only sql then None else Some (i, sql))
            (List.mapi (fun i s -> (i, s)) stmts)
      in
      match not_read with
      | Some (i, sql) ->
        Fiber.return
          (Error
             (Error.make ~sql `Misuse
                (Printf.sprintf "statement %d: a batch in `Read mode runs only SELECT, VALUES or WITH ... SELECT statements" i)))
      | None ->
        let m = match mode with `Deferred -> 0 | `Write -> 1 | `Read -> 2 in
        let req = Wire.encode_batch m (List.map (fun (sql, p) -> (sql, Some p)) stmts) in
        traced ~mode:c.mode ~sql:(String.concat "; " (List.map fst stmts)) ~params:None (fun () ->
            Fiber.call (fun () -> Ffi.conn_batch_list c.h req) (Ffi.conn_batch_list_async c.h req) >|= fun r ->
            if Wire.is_ok r then Ok (List.map Result_set.of_wire (Wire.decode_batch r)) else err_of_reply r)
          (fun l -> Trace.Returned (List.fold_left (fun n (r : Result_set.t) -> n + List.length r.rows) 0 l))

    let execute_transaction c stmts =
      with_transaction ~behavior:`Immediate c (fun c ->
          let rec go = function
            | [] -> Fiber.return (Ok ())
            | sql :: rest -> (
              execute c sql >>= function Ok _ -> go rest | Error e -> Fiber.return (Error e))
          in
          go stmts)

    let describe c sql =
      Fiber.call (fun () -> Ffi.conn_describe c.h sql) (Ffi.conn_describe_async c.h sql) >|= fun r ->
      if Wire.is_ok r then Ok (Shape.decode r) else err_of_reply r

    let close c = Fiber.call (fun () -> Ffi.conn_close c.h) (Ffi.conn_close_async c.h) >|= ignore

    let max_cached = 64

    (* The slot for [sql], made on first use; [None] once the cache holds
       [max_cached] statements (then each call prepares its own). *)
    let rec find_slot c sql =
      let slots = Atomic.get c.cache in
      match Smap.find_opt sql slots with
      | Some s -> c.last <- (sql, s); Some s
      | None ->
        if Smap.cardinal slots >= max_cached then None
        else
          let s = Atomic.make None in
          if Atomic.compare_and_set c.cache slots (Smap.add sql s slots) then Some s else find_slot c sql

    let slot c sql = match c.last with last, s when last == sql -> Some s | _ -> find_slot c sql

    (* Puts [s] back in its slot after a call, unless the slot was filled
       meanwhile or there is none (then it is closed). *)
    let release slot s r =
      match slot with
      | Some sl when Atomic.compare_and_set sl None (Some s) -> Fiber.return r
      | _ -> Stmt.close s >|= fun () -> r

    (* [f s a] runs on a statement [s] for [sql], from the cache or
       prepared; it goes back after, unless [f] raised or the slot was
       filled meanwhile (then it is closed). ([a] rather than a closure:
       callers pass a function without free variables, allocated once.) *)
    let with_cached c sql f a =
      let slot = slot c sql in
      match match slot with Some sl -> Atomic.exchange sl None | None -> None with
      | Some s -> f s a >>= release slot s
      | None -> ( prepare c sql >>= function Error e -> Fiber.return (Error e) | Ok s -> f s a >>= release slot s)
  end

  module Tx = struct
    type state = Open | Committed | Rolled_back | Closed | Ended_by_statement

    type t = { conn : Conn.t; mutable state : state }

    let closed_error t =
      let how =
        match t.state with
        | Committed -> "it was committed"
        | Rolled_back -> "it was rolled back"
        | Closed -> "it was closed"
        | Ended_by_statement ->
          "a statement ended it (ROLLBACK, or a conflict clause that rolls back), or the server did (an expired stream)"
        | Open -> "?"
      in
      Error.make `Transaction_closed ("the transaction is over: " ^ how)

    let is_open t = t.state = Open

    let begin_ ?(behavior = `Deferred) conn =
      Conn.is_autocommit conn >>= function
      | Error e -> Fiber.return (Error e)
      | Ok false ->
        Fiber.return
          (Error (Error.make `Misuse "a transaction is already open on this connection (use Conn.with_transaction to nest)"))
      | Ok true ->
        let sql =
          match behavior with `Deferred -> "BEGIN DEFERRED" | `Immediate -> "BEGIN IMMEDIATE" | `Exclusive -> "BEGIN EXCLUSIVE"
        in
        Conn.execute conn sql >|= Result.map (fun _ -> { conn; state = Open })

    (* Runs [f] if the transaction is open; afterwards, a connection back in
       autocommit mode means a statement ended the transaction. *)
    let guard t f =
      if t.state <> Open then Fiber.return (Error (closed_error t))
      else
        f () >>= fun r ->
        Conn.is_autocommit t.conn >|= fun a ->
        (match a with Ok true -> t.state <- Ended_by_statement | _ -> ());
        r

    let execute ?params t sql = guard t (fun () -> Conn.execute ?params t.conn sql)
    let query ?params t sql = guard t (fun () -> Conn.query_list ?params t.conn sql)
    let run ?params t sql = guard t (fun () -> Conn.run ?params t.conn sql)
    let batch t stmts = guard t (fun () -> Conn.batch_list t.conn stmts)
    let script t sql = guard t (fun () -> Conn.script t.conn sql)

    let finish t sql final =
      if t.state <> Open then Fiber.return (Error (closed_error t))
      else
        Conn.execute t.conn sql >>= function
        | Ok _ -> t.state <- final; Fiber.return (Ok ())
        | Error e ->
          (* a failed COMMIT: roll back, so the connection is usable *)
          Conn.is_autocommit t.conn >>= fun a ->
          (match a with
           | Ok false -> Conn.execute t.conn "ROLLBACK" >|= ignore
           | _ -> Fiber.return ())
          >|= fun () ->
          t.state <- Rolled_back;
          Error e

    let commit t = finish t "COMMIT" Committed
    let rollback t = finish t "ROLLBACK" Rolled_back

    let close t =
      if t.state <> Open then Fiber.return ()
      else rollback t >|= fun _ -> t.state <- Closed
  end

  (* Jitter from a state of our own: the application's Random is left alone. *)
  let jitter = lazy (Random.State.make_self_init ())

  let retry ?(attempts = 4) ?(base_delay = 0.1) ?(max_delay = 2.) ?on_retry f =
    checked
      [ bad_durations [ ("retry: base_delay", base_delay, false); ("retry: max_delay", max_delay, false) ];
        bad_attempts attempts ]
    @@ fun () ->
    let rec go attempt =
      f () >>= function
      | Error e when Error.is_transient e && attempt < attempts ->
        let d = Float.min max_delay (base_delay *. (2. ** float_of_int (attempt - 1))) in
        (* "equal jitter": half the delay, plus up to the other half at random *)
        let delay = (d /. 2.) +. Random.State.float (Lazy.force jitter) (d /. 2.) in
        Trace.retry ~attempt ~attempts ~delay e;
        Option.iter (fun f -> f ~attempt ~delay e) on_retry;
        Fiber.sleep delay >>= fun () -> go (attempt + 1)
      | r -> Fiber.return r
    in
    go 1

  module Syntax = struct
    let ( let* ) x f = x >>= function Ok v -> f v | Error e -> Fiber.return (Error e)
    let ( let+ ) x f = x >|= Result.map f
  end

  module Query = struct
    type 'a t = 'a Query.t

    let make = Query.make
    let in_order = Query.in_order

    let params (c : Conn.t) q = Query.params_for ~by_position:c.by_position q

    (* The first row, decoded. *)
    let first c q =
      Conn.with_cached c (Query.sql q)
        (fun s (params, q) ->
          Stmt.query_one ?params s >|= function
          | Ok (Some row) -> Result.map Option.some (Query.decode q row)
          | Ok None -> Ok None
          | Error e -> Error e)
        (params c q, q)

    let opt = first

    let one c q =
      first c q >|= function
      | Ok (Some v) -> Ok v
      | Ok None -> Error (Error.make ~sql:(Query.sql q) `Decode "Query.one: the query returned no row (Query.opt allows none)")
      | Error e -> Error e

    let fold c q ~init ~f =
      Conn.with_cached c (Query.sql q) (fun s () ->
          Stmt.query ?params:(params c q) s >>= function
          | Error e -> Fiber.return (Error e)
          | Ok rows ->
            let rec go acc =
              Rows.next rows >>= function
              | Ok (Some row) -> (
                match Query.decode q row with
                | Ok v -> go (f acc v)
                | Error e -> Rows.close rows >|= fun () -> Error e)
              | Ok None -> Fiber.return (Ok acc)
              | Error e -> Fiber.return (Error e)
            in
            Fiber.on_exn (fun () -> go init) (fun () -> Rows.close rows)) ()

    let list c q = fold c q ~init:[] ~f:(fun acc v -> v :: acc) >|= Result.map List.rev
    let iter c q ~f = fold c q ~init:() ~f:(fun () v -> f v)
    let exec c q = Conn.with_cached c (Query.sql q) (fun s params -> Stmt.execute ?params s) (params c q)
  end

  module Pool = struct
    (* [idle]: connections made and free. A call holds one of [size]
       permits while it runs: it takes a free connection, or makes one
       (there are never more connections than permits), and puts it back
       before giving its permit back. Atomics for [idle] and [closed]:
       blocking calls come from several threads. *)
    type t = {
      db : Db.t;
      size : int;
      max_wait : float;
      busy_timeout : float option;
      permits : Fiber.permits;
      idle : Conn.t list Atomic.t;
      closed : bool Atomic.t;
    }

    let create ?(size = 4) ?(max_wait = 5.) ?busy_timeout db =
      let size_err =
        if size >= 1 && size <= 1000 then None
        else Some (Error.make `Misuse (Printf.sprintf "Pool.create: size must be from 1 to 1000 (got %d)" size))
      in
      let durations =
        bad_durations
          (("Pool.create: max_wait", max_wait, false)
          :: (match busy_timeout with Some b -> [ ("Pool.create: busy_timeout", b, false) ] | None -> []))
      in
      match List.find_map Fun.id [ size_err; durations ] with
      | Some e -> Error e
      | None ->
        Ok { db; size; max_wait; busy_timeout; permits = Fiber.permits size; idle = Atomic.make [];
             closed = Atomic.make false }

    let size p = p.size
    let idle p = List.length (Atomic.get p.idle)

    let rec pop p =
      match Atomic.get p.idle with
      | [] -> None
      | c :: rest as l -> if Atomic.compare_and_set p.idle l rest then Some c else pop p

    let rec push p c =
      let l = Atomic.get p.idle in
      if not (Atomic.compare_and_set p.idle l (c :: l)) then push p c

    let closed_error () = Error.make `Closed "the pool is closed"

    (* A connection back from a call: a transaction left open is rolled
       back; one that does not answer, or whose rollback fails, is closed
       (a later call makes a new one). *)
    let give_back p c =
      (Conn.is_autocommit c >>= function
       | Ok true -> Fiber.return true
       | Ok false -> Conn.execute c "ROLLBACK" >|= Result.is_ok
       | Error _ -> Fiber.return false)
      >>= fun healthy ->
      (if healthy && not (Atomic.get p.closed) then (push p c; Fiber.return ()) else Conn.close c) >|= fun () ->
      Fiber.release p.permits

    let use p f =
      if Atomic.get p.closed then Fiber.return (Error (closed_error ()))
      else
        Fiber.acquire p.permits ~timeout:p.max_wait >>= function
        | false ->
          Fiber.return
            (Error
               (Error.make `Busy
                  (Printf.sprintf "Pool.use: all %d connections were in use for %g s (max_wait)" p.size p.max_wait)))
        | true -> (
          if Atomic.get p.closed then (Fiber.release p.permits; Fiber.return (Error (closed_error ())))
          else
            (match pop p with Some c -> Fiber.return (Ok c) | None -> Conn.connect ?busy_timeout:p.busy_timeout p.db)
            >>= function
            | Error e -> Fiber.release p.permits; Fiber.return (Error e)
            | Ok c ->
              Fiber.on_exn (fun () -> f c) (fun () -> give_back p c) >>= fun r -> give_back p c >|= fun () -> r)

    let with_transaction ?behavior p f = use p (fun c -> Conn.with_transaction ?behavior c f)

    let close p =
      Atomic.set p.closed true;
      let rec go () = match pop p with None -> Fiber.return () | Some c -> Conn.close c >>= go in
      go ()
  end

  module Migrate = struct
    type applied = { version : int; name : string; checksum : string; applied_at : float }
    type status = { current : int option; applied : applied list; pending : Migration.t list }

    open Syntax

    let config fmt = Printf.ksprintf (fun s -> Fiber.return (Error (Error.make `Config s))) fmt
    let table = "turso_migrations"

    let has_table c =
      Conn.query_one c "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?" ~params:(`Positional [ Value.text table ])
      >|= Result.map Option.is_some

    let read_applied c =
      let* exists = has_table c in
      if not exists then Fiber.return (Ok [])
      else
        Conn.query_list c (Printf.sprintf "SELECT version, name, checksum, applied_at FROM %s ORDER BY version" table) >|= fun r ->
        Result.bind r (fun rows ->
            try
              Ok
                (List.map
                   (fun row ->
                     let get i conv = Decode.at row i conv in
                     { version = get 0 Decode.int; name = get 1 Decode.string; checksum = get 2 Decode.string;
                       applied_at = get 3 Decode.float })
                   rows)
            with _ -> Error (Error.make `Config (Printf.sprintf "table %s: not what this library writes" table)))

    (* The checks of Migrate.run, against what the database has. *)
    let plan c ms =
      match Migration.sorted ms with
      | Error e -> Fiber.return (Error e)
      | Ok ms ->
        let* applied = read_applied c in
        let find v = List.find_opt (fun (m : Migration.t) -> m.version = v) ms in
        let rec check = function
          | [] -> None
          | (a : applied) :: rest -> (
            match find a.version with
            | None ->
              Some
                (Printf.sprintf "migration %04d_%s was applied to this database but is not in the list (restore it)" a.version
                   a.name)
            | Some m when m.checksum <> a.checksum ->
              Some
                (Printf.sprintf
                   "migration %s was changed after it was applied (checksum then %s, now %s): add a new migration instead"
                   (Migration.label m) a.checksum m.checksum)
            | Some _ -> check rest)
        in
        match check applied with
        | Some msg -> config "%s" msg
        | None ->
          let current = List.fold_left (fun acc (a : applied) -> Some (max a.version (Option.value acc ~default:min_int))) None applied in
          let pending = List.filter (fun (m : Migration.t) -> not (List.exists (fun (a : applied) -> a.version = m.version) applied)) ms in
          match (current, pending) with
          | Some cur, m :: _ when m.version < cur ->
            config "migration %s is numbered below %04d, already applied: give it a number above %d" (Migration.label m) cur cur
          | _ -> Fiber.return (Ok { current; applied; pending })

    let status c ms = plan c ms

    let create =
      Printf.sprintf
        "CREATE TABLE IF NOT EXISTS %s (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
         applied_at REAL NOT NULL)"
        table

    (* One migration in its transaction; [false] if another process applied
       it first. What the plan read may be stale (a replica reads its own
       file; another process may have gone on since), so the order is
       checked again here, under the write lock, against the primary's
       table. *)
    let apply_one c (m : Migration.t) =
      Conn.with_transaction ~behavior:`Immediate c (fun c ->
          let* there =
            Conn.query_one c
              (Printf.sprintf "SELECT (SELECT checksum FROM %s WHERE version = ?), (SELECT max(version) FROM %s)" table table)
              ~params:(`Positional [ Value.int m.version ])
          in
          let checksum, top = match there with Some row -> (Row.get row 0, Row.get row 1) | None -> (Value.Null, Value.Null) in
          match (checksum, top) with
          | Value.Text s, _ when s = m.checksum -> Fiber.return (Ok false)
          | Value.Text _, _ -> config "migration %s was applied meanwhile by another process, with other SQL" (Migration.label m)
          | _, Value.Integer top when Int64.to_int top > m.version ->
            config "migration %s is numbered below %04Ld, applied meanwhile by another process: give it a number above %Ld"
              (Migration.label m) top top
          | _ ->
            (* batch: all or nothing inside the transaction, and a COMMIT
               or ROLLBACK in the file is refused, not obeyed half way *)
            let* () =
              Conn.batch c m.sql >|= function
              | Ok () -> Ok ()
              | Error e ->
                Error { e with message = Printf.sprintf "migration %s failed (rolled back): %s" (Migration.label m) e.message }
            in
            let* _ =
              Conn.execute c (Printf.sprintf "INSERT INTO %s (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)" table)
                ~params:(`Positional Value.[ int m.version; text m.name; text m.checksum; float (Unix.gettimeofday ()) ])
            in
            Fiber.return (Ok true))

    let run c ms =
      let* { pending; _ } = plan c ms in
      if pending = [] then Fiber.return (Ok [])
      else
        let* _ = Conn.execute c create in
        let rec go acc = function
          | [] -> Fiber.return (Ok (List.rev acc))
          | m :: rest ->
            (* a remote primary answers Busy at once while another
               connection writes: wait for it, as a file's busy timeout does *)
            let* did =
              (* each attempt is whole or nothing, and checks for the
                 record first: trying again never applies twice *)
              retry ~attempts:12 ~base_delay:0.05 ~max_delay:2. (fun () -> apply_one c m)
            in
            go (if did then m :: acc else acc) rest
        in
        go [] pending
  end

  (* For generic code over Api_intf.S: the fiber's own operations. *)
  module Io = struct
    let return = Fiber.return
    let bind = Fiber.bind
    let map f x = x >|= f
  end
end
