(* Remote databases against a real sqld on 127.0.0.1.

   The tests start sqld themselves when SQLD_BIN names its binary (fresh
   data directory each run); without it every case is reported as SKIPPED
   with the reason, and the other suites still run. The cases that need no
   server (server down, token kept out of errors) always run. *)

open Turso
open Sqld
open Check

let token = "secret-token-7f3a9c"

(* A socket listening on 127.0.0.1 (a free port), for the fake servers. *)
let listener () =
  let l = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.setsockopt l Unix.SO_REUSEADDR true;
  Unix.bind l (Unix.ADDR_INET (Unix.inet_addr_loopback, 0));
  Unix.listen l 16;
  (l, match Unix.getsockname l with Unix.ADDR_INET (_, p) -> p | _ -> assert false)

let with_remote f () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let db = ok (Db.open_remote ~url ~auth_token:token ()) in
    let c = ok (Conn.connect db) in
    Fun.protect ~finally:(fun () -> Conn.close c; Db.close db) (fun () -> f c)

let fresh_table c name cols =
  ignore (ok (Conn.execute c ("DROP TABLE IF EXISTS " ^ name)));
  ignore (ok (Conn.execute c (Printf.sprintf "CREATE TABLE %s (%s)" name cols)))

let test_crud =
  with_remote (fun c ->
      fresh_table c "t" "id INTEGER PRIMARY KEY, s TEXT UNIQUE, r REAL, b BLOB";
      Alcotest.(check int64) "insert" 1L
        (ok (Conn.execute c "INSERT INTO t (s, r, b) VALUES (?, ?, ?)"
               ~params:(`Positional Value.[ text "héllo"; float 1.5; blob "\000\255" ])));
      Alcotest.(check int64) "rowid" 1L (ok (Conn.last_insert_rowid c));
      ignore (ok (Conn.execute c "INSERT INTO t (s, r) VALUES (:s, :r)" ~params:(`Named [ ("s", Value.text "two"); (":r", Value.float 2.) ])));
      let rows = ok (Conn.query_list c "SELECT id, s, r, b FROM t ORDER BY id") in
      Alcotest.(check (list (list string))) "values"
        [ [ "1"; "'héllo'"; "1.5"; "x'00ff'" ]; [ "2"; "'two'"; "2.0"; "NULL" ] ]
        (List.map (fun r -> List.map Value.to_string (Array.to_list (Row.values r))) rows);
      Alcotest.(check (array string)) "columns" [| "id"; "s"; "r"; "b" |] (Row.columns (List.hd rows));
      Alcotest.(check int64) "update" 2L (ok (Conn.execute c "UPDATE t SET r = r + 1"));
      Alcotest.(check int64) "delete" 1L (ok (Conn.execute c "DELETE FROM t WHERE id = 2")))

let test_errors =
  with_remote (fun c ->
      fresh_table c "u" "x TEXT UNIQUE";
      ignore (ok (Conn.execute c "INSERT INTO u VALUES ('a')"));
      let e = err ~kind:`Constraint (Conn.execute c "INSERT INTO u VALUES ('a')") in
      Alcotest.(check bool) "not transient" false (Error.is_transient e);
      let e = err (Conn.execute c "SELEC 1") in
      Alcotest.(check bool) ("syntax error reported: " ^ e.message) true (e.kind = `Sql || e.kind = `Misuse);
      Alcotest.(check (option string)) "failing SQL" (Some "SELEC 1") e.sql;
      ignore (err ~kind:`Misuse (Conn.execute c "SELECT ?" ~params:(`Positional [ Value.Real nan ]))))

let test_transactions =
  with_remote (fun c ->
      fresh_table c "tx" "x";
      ok (Conn.with_transaction c (fun c -> Result.map ignore (Conn.execute c "INSERT INTO tx VALUES (1)")));
      ignore (Conn.with_transaction c (fun c ->
          ignore (Conn.execute c "INSERT INTO tx VALUES (2)");
          Error (Error.make `Misuse "roll back")));
      let n = ok (Conn.query_one c "SELECT count(*) FROM tx") in
      Alcotest.(check string) "rolled back" "1" (Value.to_string (Row.get (Option.get n) 0));
      ignore (err (Conn.batch c "INSERT INTO tx VALUES (3); INSERT INTO nope VALUES (1)"));
      let n = ok (Conn.query_one c "SELECT count(*) FROM tx") in
      Alcotest.(check string) "atomic batch" "1" (Value.to_string (Row.get (Option.get n) 0)))

let test_prepared =
  with_remote (fun c ->
      fresh_table c "p" "id INTEGER PRIMARY KEY, v TEXT";
      let ins = ok (Conn.prepare c "INSERT INTO p VALUES (?, ?)") in
      Alcotest.(check int64) "execute_many" 600L
        (ok (Stmt.execute_many ins (List.init 600 (fun i -> Value.[ int i; text (string_of_int i) ]))));
      let sel = ok (Conn.prepare c "SELECT v FROM p WHERE id = ?") in
      for i = 0 to 20 do
        match ok (Stmt.query_one sel ~params:(`Positional [ Value.int i ])) with
        | Some r -> Alcotest.(check string) "lookup" (Printf.sprintf "'%d'" i) (Value.to_string (Row.get r 0))
        | None -> Alcotest.fail "no row"
      done;
      let n = ok (Conn.fold c "SELECT id FROM p" ~init:0 ~f:(fun n _ -> n + 1)) in
      Alcotest.(check int) "streamed in chunks" 600 n)

let lwt_concurrency ~replica () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let open Lwt.Syntax in
    let path = Filename.temp_file "turso-lwt-replica" ".db" in
    Sys.remove path;
    Lwt_main.run
      (let* db =
         Lwt.map ok
           (if replica then Turso_lwt.Db.open_replica ~path ~url ~auth_token:token ()
            else Turso_lwt.Db.open_remote ~url ~auth_token:token ())
       in
       let* conns = Lwt_list.map_s (fun _ -> Lwt.map ok (Turso_lwt.Conn.connect db)) [ 1; 2; 3; 4 ] in
       let conns = Array.of_list conns in
       let* results =
         Lwt.all
           (List.init 10_000 (fun i ->
                let* r = Turso_lwt.Conn.query_one conns.(i mod 4) "SELECT ? * 3" ~params:(`Positional [ Value.int i ]) in
                Lwt.return (match ok r with Some row -> Value.equal (Row.get row 0) (Value.int (i * 3)) | None -> false)))
       in
       Alcotest.(check int) "10,000 concurrent queries, right results" 10_000 (List.length (List.filter Fun.id results));
       (* a streamed query (prepare and first chunk in one job), whole *)
       let* rows =
         Lwt.map ok
           (Turso_lwt.Conn.query_list conns.(0)
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) SELECT i FROM n")
       in
       Alcotest.(check int) "query_list: 1,000 rows, in chunks" 1000 (List.length rows);
       let* bad = Turso_lwt.Conn.query_list conns.(0) "SELECT * FROM no_such_table" in
       Alcotest.(check bool) "query_list: an error, the connection goes on" true (Result.is_error bad);
       Alcotest.(check int) "nothing left pending" 0 (Turso_lwt.Private.pending ());
       let* () = Lwt_list.iter_s Turso_lwt.Conn.close (Array.to_list conns) in
       Turso_lwt.Db.close db);
    cleanup_replica path

(* Mixed queries and inserts over 8 remote connections, some cancelled in
   flight: every promise settles (resolved or Canceled) within the bound,
   nothing is left pending, and every connection is usable after. *)
let lwt_cancel_mixed () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let open Lwt.Syntax in
    let n = 4_000 and settled = ref 0 in
    Lwt_main.run
      (let* db = Lwt.map ok (Turso_lwt.Db.open_remote ~url ~auth_token:token ()) in
       let* conns = Lwt_list.map_s (fun _ -> Lwt.map ok (Turso_lwt.Conn.connect db)) (List.init 8 Fun.id) in
       let conns = Array.of_list conns in
       let* _ = Lwt.map ok (Turso_lwt.Conn.execute conns.(0) "CREATE TABLE IF NOT EXISTS lwt_mixed (x)") in
       let ps =
         List.init n (fun i ->
             let c = conns.(i mod 8) and p = `Positional [ Value.int i ] in
             let op =
               if i mod 2 = 0 then Lwt.map (Result.map ignore) (Turso_lwt.Conn.query_one c "SELECT ?" ~params:p)
               else Lwt.map (Result.map ignore) (Turso_lwt.Conn.execute c "INSERT INTO lwt_mixed VALUES (?)" ~params:p)
             in
             Lwt.on_termination op (fun () -> incr settled);
             op)
       in
       let* () = Lwt_unix.sleep 0.05 in
       List.iteri (fun i p -> if i mod 10 = 3 then Lwt.cancel p) ps;
       let all = Lwt.map ignore (Lwt.all (List.map (fun p -> Lwt.catch (fun () -> Lwt.map ignore p) (fun _ -> Lwt.return ())) ps)) in
       let* finished = Lwt.pick [ Lwt.map (fun () -> true) all; Lwt.map (fun () -> false) (Lwt_unix.sleep 120.) ] in
       Alcotest.(check bool) (Printf.sprintf "every promise settled (%d of %d)" !settled n) true finished;
       Alcotest.(check int) "nothing left pending" 0 (Turso_lwt.Private.pending ());
       let* usable = Lwt_list.map_s (fun c -> Turso_lwt.Conn.query_one c "SELECT 1") (Array.to_list conns) in
       Alcotest.(check bool) "every connection usable" true (List.for_all Result.is_ok usable);
       let* () = Lwt_list.iter_s Turso_lwt.Conn.close (Array.to_list conns) in
       Turso_lwt.Db.close db)

let replica_path () =
  let f = Filename.temp_file "turso-replica" ".db" in
  Sys.remove f;
  f

let count c table =
  match ok (Conn.query_one c ("SELECT count(*) FROM " ^ table)) with
  | Some r -> Value.to_string (Row.get r 0)
  | None -> "?"

let with_replica ?sync_interval f =
  with_remote (fun primary ->
      let url = Option.get (Lazy.force server) in
      let path = replica_path () in
      let db = ok (Db.open_replica ?sync_interval ~path ~url ~auth_token:token ()) in
      let c = ok (Conn.connect db) in
      Fun.protect
        ~finally:(fun () ->
          Conn.close c;
          Db.close db;
          cleanup_replica path)
        (fun () -> f primary db c))

let test_replica_sync =
  with_replica (fun primary db replica ->
      fresh_table primary "r1" "x";
      ignore (ok (Conn.execute primary "INSERT INTO r1 VALUES (1), (2)"));
      let info = ok (Db.sync db) in
      Alcotest.(check bool) "sync reports a frame" true (info.Db.frame_no <> None);
      Alcotest.(check string) "another client's writes, after sync" "2" (count replica "r1");
      ignore (ok (Conn.execute primary "INSERT INTO r1 VALUES (3)"));
      let info = ok (Db.sync db) in
      Alcotest.(check bool) "frames applied" true (info.Db.frames_synced > 0);
      Alcotest.(check string) "and the next ones" "3" (count replica "r1"))

let test_replica_writes =
  with_replica (fun primary _db replica ->
      fresh_table primary "r2" "x";
      ignore (ok (Conn.execute replica "INSERT INTO r2 VALUES ('from the replica')") |> fun _ -> ());
      Alcotest.(check string) "read-your-writes: the writer sees it at once" "1" (count replica "r2");
      Alcotest.(check string) "the primary has it" "1" (count primary "r2");
      ok (Conn.with_transaction replica (fun c -> Result.map ignore (Conn.execute c "INSERT INTO r2 VALUES ('tx')")));
      Alcotest.(check string) "a transaction through the replica" "2" (count primary "r2"))

let test_replica_periodic =
  with_replica ~sync_interval:0.2 (fun primary _db replica ->
      fresh_table primary "r3" "x";
      ignore (ok (Conn.execute primary "INSERT INTO r3 VALUES (1)"));
      let deadline = Unix.gettimeofday () +. 10. in
      let rec wait () =
        let n = match Conn.query_one replica "SELECT count(*) FROM r3" with Ok (Some r) -> Value.to_string (Row.get r 0) | _ -> "0" in
        if n = "1" then () else if Unix.gettimeofday () > deadline then Alcotest.fail "the periodic sync did not bring the row" else (Unix.sleepf 0.1; wait ())
      in
      wait ())

let test_sync_not_replica =
  with_remote (fun _ ->
      let url = Option.get (Lazy.force server) in
      let db = ok (Db.open_remote ~url ~auth_token:token ()) in
      ignore (err ~kind:`Misuse (Db.sync db));
      Db.close db;
      let local = ok (Db.open_local ":memory:") in
      ignore (err ~kind:`Misuse (Db.sync local));
      Db.close local)

let test_replica_stats =
  with_replica (fun primary db replica ->
      let t0 = Unix.gettimeofday () in
      fresh_table primary "r4" "x";
      ignore (ok (Conn.execute primary "INSERT INTO r4 VALUES (1), (2), (3)"));
      let before = ok (Db.stats db) in
      Alcotest.(check string) "mode" "replica" (Stats.mode_to_string before.Stats.mode);
      let info = ok (Db.sync db) in
      ignore (count replica "r4");
      let synced = ok (Db.stats db) in
      Alcotest.(check int) "one more sync" (before.Stats.syncs + 1) synced.Stats.syncs;
      Alcotest.(check int64) "frames added up"
        (Int64.add before.Stats.frames_synced (Int64.of_int info.Db.frames_synced)) synced.Stats.frames_synced;
      ignore (ok (Conn.execute replica "INSERT INTO r4 VALUES (4)"));
      let st = ok (Db.stats db) in
      Alcotest.(check int) "a write syncs the replica (read-your-writes)" (synced.Stats.syncs + 1) st.Stats.syncs;
      Alcotest.(check bool) "and brings its frames" true (st.Stats.frames_synced > synced.Stats.frames_synced);
      Alcotest.(check bool) "frame number" true (st.Stats.frame_no <> None);
      Alcotest.(check bool) "frame number follows the write" true
        (Option.get st.Stats.frame_no >= Option.get info.Db.frame_no);
      (match st.Stats.last_sync_at, st.Stats.last_sync_duration with
       | Some at, Some d ->
         Alcotest.(check bool) "sync time: just now" true (at >= t0 -. 1. && at <= Unix.gettimeofday () +. 1.);
         Alcotest.(check bool) "duration: positive, under the timeout" true (d > 0. && d < 10.)
       | _ -> Alcotest.fail "no sync time");
      Alcotest.(check (option string)) "no error" None st.Stats.last_sync_error;
      Alcotest.(check bool) "statements: the count and the insert" true
        (Int64.sub st.Stats.statements before.Stats.statements = 2L);
      let printed = Format.asprintf "%a" Stats.pp st in
      Alcotest.(check bool) "the token is not in the stats" false (contains printed token);
      let remote = ok (Db.open_remote ~url:(Option.get (Lazy.force server)) ~auth_token:token ()) in
      Alcotest.(check string) "remote mode" "remote" (Stats.mode_to_string (ok (Db.stats remote)).Stats.mode);
      Db.close remote)

let test_periodic_stats =
  with_replica ~sync_interval:0.1 (fun _ db _ ->
      Unix.sleepf 0.8;
      let st = ok (Db.stats db) in
      Alcotest.(check bool) (Printf.sprintf "periodic syncs counted (%d)" st.Stats.syncs) true (st.Stats.syncs >= 3))


(* A server of its own, killed while in use and started again on the same
   port and data: errors while it is down (within the timeout), the
   replica still answers reads, and everything recovers with nothing lost. *)
(* An embedded replica whose file exists opens while the primary is down,
   and serves what it has from open on; a write fails with a transient
   error; the first sync happens when the primary is back (Db.sync here).
   Then the primary stops answering (a listening socket that never
   replies): a sync fails with Timeout after [timeout], not [sync_timeout]. *)
let test_replica_offline () =
  let bin = match sqld_bin with Some b -> b | None -> Alcotest.fail skipped in
  let s = start_sqld bin in
  let url = url_of s in
  let path = replica_path () in
  let db = ok (Db.open_replica ~timeout:2. ~path ~url ~auth_token:token ()) in
  let c = ok (Conn.connect db) in
  fresh_table c "off" "x INTEGER";
  ignore (ok (Conn.execute c "INSERT INTO off VALUES (42)"));
  Conn.close c;
  Db.close db;
  kill_sqld s;
  let t0 = Unix.gettimeofday () in
  let db = ok (Db.open_replica ~timeout:2. ~path ~url ~auth_token:token ()) in
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "opened, the primary down, within the timeout (%.2f s)" took) true (took < 3.);
  let c = ok (Conn.connect db) in
  Alcotest.(check string) "reads what it has" "42" (match ok (Conn.query_one c "SELECT x FROM off") with
    | Some r -> Value.to_string (Row.get r 0) | None -> "none");
  let e = err (Conn.execute c "INSERT INTO off VALUES (43)") in
  Alcotest.(check bool) ("a write, primary down: transient: " ^ Error.to_string e) true (Error.is_transient e);
  let e = err (Db.sync db) in
  Alcotest.(check bool) ("a sync, primary down: transient: " ^ Error.to_string e) true (Error.is_transient e);
  let st = ok (Db.stats db) in
  Alcotest.(check bool) "the stats say why" true (st.Stats.last_sync_error <> None);
  (* the primary is back: the next sync catches up *)
  let s = start_sqld ~port:s.port ~dir:s.dir bin in
  let remote = ok (Db.open_remote ~url ~auth_token:token ()) in
  let rc = ok (Conn.connect remote) in
  ignore (ok (retry ~base_delay:0.2 (fun () -> Conn.execute rc "INSERT INTO off VALUES (44)")));
  ignore (ok (retry ~base_delay:0.2 (fun () -> Db.sync db)));
  Alcotest.(check string) "caught up" "2" (count c "off");
  ignore (ok (Conn.execute c "INSERT INTO off VALUES (45)"));
  Alcotest.(check string) "writes through again, read your writes" "3" (count c "off");
  Conn.close rc;
  Db.close remote;
  (* now a primary that accepts connections and never answers *)
  kill_sqld s;
  let sock = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.setsockopt sock Unix.SO_REUSEADDR true;
  Unix.bind sock (Unix.ADDR_INET (Unix.inet_addr_loopback, s.port));
  Unix.listen sock 64;
  let t0 = Unix.gettimeofday () in
  let e = err ~kind:`Timeout (Db.sync db) in
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool)
    (Printf.sprintf "a sync with no progress fails after the timeout, not sync_timeout (%.2f s): %s" took e.message)
    true (took < 4.);
  Alcotest.(check string) "reads go on" "3" (count c "off");
  Conn.close c;
  Db.close db;
  (* and a replica opened while the primary is silent *)
  let t0 = Unix.gettimeofday () in
  let db = ok (Db.open_replica ~timeout:2. ~sync_timeout:120. ~path ~url ~auth_token:token ()) in
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "opened, the primary silent (%.2f s)" took) true (took < 3.);
  let c = ok (Conn.connect db) in
  Alcotest.(check string) "reads what it has" "3" (count c "off");
  let t0 = Unix.gettimeofday () in
  let e = err ~kind:`Timeout (Db.sync db) in
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "and a sync then, within the timeout (%.2f s): %s" took e.message) true (took < 4.);
  Conn.close c;
  Db.close db;
  Unix.close sock;
  cleanup_replica path

(* A sync that keeps receiving frames may run past the timeout (to
   sync_timeout): a fresh replica of a database of 40 MB, with a timeout
   far shorter than its first sync. (A watchdog that cannot see progress
   would fail it after the timeout.) *)
let test_replica_long_sync () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    with_remote (fun c ->
        fresh_table c "big" "b BLOB";
        let ins = ok (Conn.prepare c "INSERT INTO big VALUES (randomblob(1048576))") in
        (* 80 MB: about 2-3 s to sync here, well past the timeout; a 1 s
           timeout (0.5 s once failed when cargo loaded both cores: sqld
           stalled that long before its first frames) *)
        for _ = 1 to 80 do ignore (ok (Stmt.execute ins)) done;
        Stmt.close ins;
        let path = replica_path () in
        let t0 = Unix.gettimeofday () in
        let db = ok (Db.open_replica ~timeout:1. ~sync_timeout:120. ~path ~url ~auth_token:token ()) in
        let took = Unix.gettimeofday () -. t0 in
        let rc = ok (Conn.connect db) in
        Alcotest.(check string) (Printf.sprintf "the whole database arrived (first sync %.2f s, timeout 1 s)" took)
          "80" (count rc "big");
        Alcotest.(check bool) "the sync outlasted the timeout (what this tests)" true (took > 1.);
        Conn.close rc;
        Db.close db;
        cleanup_replica path)
      ()

let test_server_killed () =
  let bin = match sqld_bin with Some b -> b | None -> Alcotest.fail skipped in
  let s = start_sqld bin in
  let url = url_of s in
  let remote = ok (Db.open_remote ~timeout:2. ~url ~auth_token:token ()) in
  let rc = ok (Conn.connect remote) in
  fresh_table rc "k" "id INTEGER PRIMARY KEY, v TEXT";
  ignore (ok (Conn.execute rc "INSERT INTO k (v) VALUES ('before')"));
  let path = replica_path () in
  let rdb = ok (Db.open_replica ~timeout:2. ~path ~url ~auth_token:token ()) in
  let pc = ok (Conn.connect rdb) in
  Alcotest.(check string) "replica in step" "1" (count pc "k");
  (* a transaction open when the server goes away *)
  let tc = ok (Conn.connect remote) in
  let tx = ok (Tx.begin_ tc) in
  ignore (ok (Tx.execute tx "INSERT INTO k (v) VALUES ('in a transaction')"));
  kill_sqld s;
  let t0 = Unix.gettimeofday () in
  let e = err (Conn.execute rc "INSERT INTO k (v) VALUES ('while down')") in
  Alcotest.(check bool) ("remote write, server down: " ^ Error.to_string e) true (e.kind = `Network || e.kind = `Timeout);
  Alcotest.(check bool) "transient" true (Error.is_transient e);
  Alcotest.(check bool) "within the timeout" true (Unix.gettimeofday () -. t0 < 4.);
  Alcotest.(check string) "the replica still serves reads" "1" (count pc "k");
  let e = err (Db.sync rdb) in
  Alcotest.(check bool) ("sync, server down: " ^ Error.to_string e) true (Error.is_transient e || e.kind = `Sync);
  let st = ok (Db.stats rdb) in
  Alcotest.(check bool) "the failed sync is in the stats" true (st.Stats.last_sync_error <> None && st.Stats.failed_syncs >= 1);
  Alcotest.(check bool) "no token in the stats" false (contains (Format.asprintf "%a" Stats.pp st) token);
  let calls = ref 0 in
  ignore (retry ~attempts:3 ~base_delay:0.01 (fun () -> incr calls; Conn.execute rc "SELECT 1"));
  Alcotest.(check int) "retry: three attempts while down" 3 !calls;
  let s = start_sqld ~port:s.port ~dir:s.dir bin in
  (* the same handles recover; a retry covers the first request racing the restart *)
  ignore (ok (retry ~base_delay:0.2 (fun () -> Conn.execute rc "INSERT INTO k (v) VALUES ('after')")));
  ignore (ok (Db.sync rdb));
  Alcotest.(check string) "the replica catches up" "2" (count pc "k");
  ignore (ok (Conn.execute pc "INSERT INTO k (v) VALUES ('through the replica')"));
  Alcotest.(check (option string)) "the stats show the recovery" None (ok (Db.stats rdb)).Stats.last_sync_error;
  let e = err ~kind:`Transaction_closed (Tx.execute tx "INSERT INTO k (v) VALUES ('more')") in
  Alcotest.(check bool) ("the transaction is gone with the server, and says so: " ^ e.message) true
    (contains e.message "restarted");
  Alcotest.(check bool) "closed" false (Tx.is_open tx);
  Alcotest.(check int64) "its connection is usable" 0L (ok (Conn.execute tc "DELETE FROM k WHERE v = 'nothing'"));
  Conn.close tc;
  let rows = ok (Conn.query_list rc "SELECT v FROM k ORDER BY id") in
  Alcotest.(check (list string)) "nothing lost on the primary" [ "'before'"; "'after'"; "'through the replica'" ]
    (List.map (fun r -> Value.to_string (Row.get r 0)) rows);
  Conn.close pc;
  Db.close rdb;
  let local = ok (Db.open_local ~mode:`Read_only path) in
  let lc = ok (Conn.connect local) in
  (match ok (Conn.query_one lc "PRAGMA integrity_check") with
   | Some r -> Alcotest.(check string) "the replica file is intact" "'ok'" (Value.to_string (Row.get r 0))
   | None -> Alcotest.fail "no integrity_check result");
  Alcotest.(check string) "and has every row" "3" (count lc "k");
  Conn.close lc;
  Db.close local;
  cleanup_replica path;
  Conn.close rc;
  Db.close remote;
  kill_sqld s

(* JWT auth: tokens are EdDSA-signed JWTs, minted here with openssl. *)
let b64url s =
  let b = Buffer.create 64 in
  let e = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" in
  let n = String.length s in
  let byte i = if i < n then Char.code s.[i] else 0 in
  let rec go i =
    if i < n then begin
      let v = (byte i lsl 16) lor (byte (i + 1) lsl 8) lor byte (i + 2) in
      let chars = match n - i with 1 -> 2 | 2 -> 3 | _ -> 4 in
      for k = 0 to chars - 1 do
        Buffer.add_char b e.[(v lsr (18 - (6 * k))) land 63]
      done;
      go (i + 3)
    end
  in
  go 0;
  Buffer.contents b

let run fmt = Printf.ksprintf (fun cmd -> if Sys.command cmd <> 0 then Alcotest.failf "failed: %s" cmd) fmt

let read_file f =
  let ic = open_in_bin f in
  Fun.protect ~finally:(fun () -> close_in ic) (fun () -> really_input_string ic (in_channel_length ic))

let mint_jwt ~dir ~key claims =
  let signing = b64url {|{"alg":"EdDSA","typ":"JWT"}|} ^ "." ^ b64url claims in
  let input = Filename.concat dir "signing-input" and sig_ = Filename.concat dir "signature" in
  let oc = open_out_bin input in
  output_string oc signing;
  close_out oc;
  run "openssl pkeyutl -sign -inkey %s -rawin -in %s -out %s" (Filename.quote key) (Filename.quote input) (Filename.quote sig_);
  signing ^ "." ^ b64url (read_file sig_)

let test_jwt_auth () =
  let bin = match sqld_bin with Some b -> b | None -> Alcotest.fail skipped in
  if Sys.command "openssl version >/dev/null 2>&1" <> 0 then Alcotest.fail "SKIPPED: openssl is needed to mint JWTs";
  let dir = Filename.temp_file "turso-jwt" "" in
  Sys.remove dir;
  Unix.mkdir dir 0o700;
  let key = Filename.concat dir "key.pem" and other = Filename.concat dir "other.pem" and pub = Filename.concat dir "pub.pem" in
  run "openssl genpkey -algorithm ed25519 -out %s 2>/dev/null" (Filename.quote key);
  run "openssl genpkey -algorithm ed25519 -out %s 2>/dev/null" (Filename.quote other);
  run "openssl pkey -in %s -pubout -out %s" (Filename.quote key) (Filename.quote pub);
  let s = start_sqld ~args:[ "--auth-jwt-key-file"; pub ] bin in
  let url = url_of s in
  let good = mint_jwt ~dir ~key "{}" in
  let forged = mint_jwt ~dir ~key:other "{}" in
  let db = ok (Db.open_remote ~url ~auth_token:good ()) in
  let c = ok (Conn.connect db) in
  Alcotest.(check int64) "the right token works" 0L (ok (Conn.execute c "CREATE TABLE j (x)"));
  Conn.close c;
  Db.close db;
  List.iter
    (fun (what, bad) ->
      let r =
        match Db.open_remote ~url ~auth_token:bad () with
        | Error e -> Error e
        | Ok db -> (
          let c = ok (Conn.connect db) in
          Fun.protect ~finally:(fun () -> Conn.close c; Db.close db) (fun () -> Conn.execute c "SELECT 1"))
      in
      let e = err ~kind:`Auth r in
      Alcotest.(check bool) (what ^ ": not transient") false (Error.is_transient e);
      let leaked e = bad <> "" && contains (Error.to_string e) bad in
      Alcotest.(check bool) (what ^ ": the token is not in the message: " ^ Error.to_string e) false (leaked e);
      let path = replica_path () in
      let t0 = Unix.gettimeofday () in
      let e = err ~kind:`Auth (Db.open_replica ~path ~url ~auth_token:bad ()) in
      let took = Unix.gettimeofday () -. t0 in
      (* at once: not after libsql's handshake retries (about 3 s) *)
      Alcotest.(check bool) (Printf.sprintf "%s, replica: Auth at once (%.2f s)" what took) true (took < 1.);
      Alcotest.(check bool) (what ^ ", replica: the token is not in the message") false (leaked e);
      cleanup_replica path)
    [ ("signed by another key", forged); ("not a JWT", "not-a-jwt-" ^ String.make 20 'x'); ("no token", "") ];
  kill_sqld s;
  ignore (Sys.command (Printf.sprintf "rm -rf %s" (Filename.quote dir)))

(* A TCP proxy in front of sqld that counts the HTTP requests going
   through it: how many round trips an operation costs. *)
let proxy ~port =
  let requests = ref 0 in
  let m = Mutex.create () in
  let l = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.setsockopt l Unix.SO_REUSEADDR true;
  Unix.bind l (Unix.ADDR_INET (Unix.inet_addr_loopback, 0));
  Unix.listen l 64;
  let my_port = match Unix.getsockname l with Unix.ADDR_INET (_, p) -> p | _ -> assert false in
  let pump ~count src dst =
    let buf = Bytes.create 65536 in
    let tail = ref "" in
    (try
       let rec go () =
         let n = Unix.read src buf 0 (Bytes.length buf) in
         if n > 0 then begin
           if count then begin
             let text = !tail ^ Bytes.sub_string buf 0 n in
             let re = Str.regexp_string "POST /" in
             let rec find i = match Str.search_forward re text i with j -> Mutex.lock m; incr requests; Mutex.unlock m; find (j + 1) | exception Not_found -> () in
             (* the tail is shorter than "POST /": no match is counted twice *)
             find 0;
             tail := String.sub text (max 0 (String.length text - 5)) (min 5 (String.length text))
           end;
           ignore (Unix.write dst buf 0 n);
           go ()
         end
       in
       go ()
     with Unix.Unix_error _ -> ());
    (try Unix.shutdown dst Unix.SHUTDOWN_SEND with Unix.Unix_error _ -> ())
  in
  ignore
    (Thread.create
       (fun () ->
         while true do
           let c, _ = Unix.accept l in
           let s = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
           Unix.connect s (Unix.ADDR_INET (Unix.inet_addr_loopback, port));
           ignore (Thread.create (fun () -> pump ~count:true c s) ());
           ignore (Thread.create (fun () -> pump ~count:false s c) ())
         done)
       ());
  (Printf.sprintf "http://127.0.0.1:%d" my_port, fun () -> Mutex.lock m; let n = !requests in Mutex.unlock m; n)

let server_port () =
  let url = Option.get (Lazy.force server) in
  int_of_string (List.nth (String.split_on_char ':' url) 2)

let test_execute_many_one_request =
  with_remote (fun c ->
      fresh_table c "em" "id INTEGER PRIMARY KEY, v TEXT NOT NULL";
      let url, requests = proxy ~port:(server_port ()) in
      let db = ok (Db.open_remote ~url ~auth_token:token ()) in
      let pc = ok (Conn.connect db) in
      let ins = ok (Conn.prepare pc "INSERT INTO em (id, v) VALUES (?, ?)") in
      let before = requests () in
      Alcotest.(check int64) "1,000 rows" 1000L
        (ok (Stmt.execute_many ins (List.init 1000 (fun i -> Value.[ int i; text (string_of_int i) ]))));
      Alcotest.(check int) "in one HTTP request" 1 (requests () - before);
      Alcotest.(check string) "all there" "1000" (count c "em");
      let e = err ~kind:`Constraint (Stmt.execute_many ins [ Value.[ int 5000; text "a" ]; Value.[ int 5001; Null ] ]) in
      Alcotest.(check bool) ("names the set: " ^ e.message) true (contains e.message "parameter set 1");
      Alcotest.(check string) "nothing of it stays" "1000" (count c "em");
      ignore (err ~kind:`Misuse (Stmt.execute_many ins [ Value.[ int 6000; float infinity ] ]));
      (* a batch of 1,000 inserts from [first]: 1,000 results, one request *)
      let batch_of_1000 what ~first run =
        let before = requests () in
        let stmts = List.init 1000 (fun i -> ("INSERT INTO em (id, v) VALUES (?, ?)", `Positional Value.[ int (first + i); text what ])) in
        Alcotest.(check int) (what ^ ": 1,000 results") 1000 (List.length (ok (run stmts)));
        Alcotest.(check int) (what ^ ": in one HTTP request") 1 (requests () - before)
      in
      batch_of_1000 "batch_list" ~first:10_000 (Conn.batch_list pc);
      let before = requests () in
      ignore (ok (Conn.query_list pc "SELECT count(*) FROM em"));
      Alcotest.(check int) "a query: one request" 1 (requests () - before);
      (* inside a transaction too: one request per call *)
      let tx = ok (Tx.begin_ pc) in
      batch_of_1000 "batch inside a transaction" ~first:20_000 (Tx.batch tx);
      let before = requests () in
      ignore (ok (Tx.run tx "SELECT count(*) FROM em"));
      ignore (ok (Tx.script tx "INSERT INTO em (id, v) VALUES (99999, 'd'); DELETE FROM em WHERE id = 99999"));
      Alcotest.(check int) "a statement, a script: one request each" 2 (requests () - before);
      ok (Tx.commit tx);
      Alcotest.(check string) "committed" "3000" (match ok (Conn.query_one pc "SELECT count(*) FROM em") with Some r -> Value.to_string (Row.get r 0) | None -> "?");
      Conn.close pc;
      Db.close db)

let test_replica_execute_many =
  with_replica (fun primary _db replica ->
      fresh_table primary "rem" "x";
      let ins = ok (Conn.prepare replica "INSERT INTO rem VALUES (?)") in
      ignore (ok (Stmt.execute_many ins (List.init 100 (fun i -> [ Value.int i ]))));
      Alcotest.(check string) "read-your-writes after execute_many" "100" (count replica "rem");
      Alcotest.(check string) "on the primary" "100" (count primary "rem"))

(* A plain BEGIN goes to the server with the transaction's first statement:
   one round trip fewer per transaction; what it runs is the same. *)
let test_begin_with_next () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let db = ok (Db.open_remote ~url ~auth_token:token ()) in
    let c = ok (Conn.connect db) in
    Fun.protect ~finally:(fun () -> Conn.close c; Db.close db) @@ fun () ->
      fresh_table c "bw" "id INTEGER PRIMARY KEY, v TEXT";
      let db_requests () = (ok (Db.stats db)).Stats.requests in
      let before = db_requests () in
      ok (Conn.with_transaction c (fun c ->
          Alcotest.(check bool) "in a transaction before anything was sent" false (ok (Conn.is_autocommit c));
          ignore (ok (Conn.execute c "INSERT INTO bw VALUES (1, 'a')"));
          Alcotest.(check string) "the transaction sees its write" "1" (count c "bw");
          Ok ()));
      Alcotest.(check int64) "BEGIN+INSERT, SELECT, COMMIT: three requests" 3L (Int64.sub (db_requests ()) before);
      Alcotest.(check string) "committed" "1" (count c "bw");
      (* rolled back: nothing stays *)
      ignore (ok (Conn.execute c "begin deferred transaction;"));
      ignore (ok (Conn.execute c "INSERT INTO bw VALUES (2, 'b')"));
      ignore (ok (Conn.execute c "ROLLBACK"));
      Alcotest.(check bool) "autocommit after ROLLBACK" true (ok (Conn.is_autocommit c));
      Alcotest.(check string) "rolled back" "1" (count c "bw");
      (* a failing first statement: its own error, the transaction open *)
      ignore (ok (Conn.execute c "BEGIN"));
      ignore (err ~kind:`Constraint (Conn.execute c "INSERT INTO bw VALUES (1, 'dup')"));
      Alcotest.(check bool) "still in the transaction" false (ok (Conn.is_autocommit c));
      ignore (ok (Conn.execute c "INSERT INTO bw VALUES (3, 'c')"));
      ignore (ok (Conn.execute c "COMMIT"));
      Alcotest.(check string) "committed after the error" "2" (count c "bw");
      (* BEGIN then COMMIT alone: one request *)
      let before = db_requests () in
      ignore (ok (Conn.execute c "BEGIN"));
      ignore (ok (Conn.execute c "COMMIT"));
      Alcotest.(check int64) "an empty transaction: one request" 1L (Int64.sub (db_requests ()) before);
      (* BEGIN IMMEDIATE takes a lock: sent at once *)
      let before = db_requests () in
      ignore (ok (Conn.execute c "BEGIN IMMEDIATE"));
      Alcotest.(check int64) "BEGIN IMMEDIATE: sent at once" 1L (Int64.sub (db_requests ()) before);
      ignore (ok (Conn.execute c "COMMIT"));
      (* a streamed result first (a cursor carries one statement): BEGIN
         goes alone, then the cursor, in the transaction *)
      ok (Conn.batch c "INSERT INTO bw WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 2009) SELECT i, printf('%0100d', i) FROM n");
      let small_db = ok (Db.open_remote ~max_reply_size:16384 ~url ~auth_token:token ()) in
      let sc = ok (Conn.connect small_db) in
      let before = (ok (Db.stats small_db)).Stats.requests in
      ignore (ok (Conn.execute sc "BEGIN"));
      ignore (ok (Conn.execute c "INSERT INTO bw VALUES (5000, 'outside')"));
      Alcotest.(check int) "a streamed result in the transaction" 2003
        (ok (Conn.fold sc "SELECT * FROM bw" ~init:0 ~f:(fun n _ -> n + 1)));
      Alcotest.(check bool) "in the transaction" false (ok (Conn.is_autocommit sc));
      ignore (ok (Conn.execute sc "COMMIT"));
      Alcotest.(check bool) "streamed: more than one request" true (Int64.sub (ok (Db.stats small_db)).Stats.requests before > 2L);
      Conn.close sc;
      Db.close small_db

(* A pool of 4 remote connections under Lwt: 16 callers, each holding its
   connection across a request to the server: 4 requests in flight at
   once, never more; the blocking pool the same with threads. *)
let test_remote_pool () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let n_in_flight =
      Lwt_main.run
        (let open Lwt.Syntax in
         let* db = Lwt.map ok (Turso_lwt.Db.open_remote ~url ~auth_token:token ()) in
         let pool = ok (Turso_lwt.Pool.create ~size:4 db) in
         let in_use = ref 0 and most = ref 0 in
         let* rs =
           Lwt.all
             (List.init 16 (fun _ ->
                  Turso_lwt.Pool.use pool (fun c ->
                      incr in_use;
                      most := max !most !in_use;
                      let* r = Turso_lwt.Conn.query_one c "SELECT count(*) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i FROM n)" in
                      decr in_use;
                      Lwt.return r)))
         in
         List.iter (fun r -> ignore (ok r)) rs;
         let* () = Turso_lwt.Pool.close pool in
         let+ () = Turso_lwt.Db.close db in
         !most)
    in
    Alcotest.(check int) "4 requests in flight at once" 4 n_in_flight;
    let db = ok (Db.open_remote ~url ~auth_token:token ()) in
    let pool = ok (Pool.create ~size:3 db) in
    let in_use = Atomic.make 0 and most = Atomic.make 0 in
    let ts =
      List.init 6 (fun _ ->
          Thread.create
            (fun () ->
              for _ = 1 to 5 do
                ignore
                  (ok
                     (Pool.use pool (fun c ->
                          let n = Atomic.fetch_and_add in_use 1 + 1 in
                          if n > Atomic.get most then Atomic.set most n;
                          let r = Conn.query_one c "SELECT 1" in
                          Thread.delay 0.005;
                          Atomic.decr in_use;
                          r)))
              done)
            ())
    in
    List.iter Thread.join ts;
    Alcotest.(check bool) (Printf.sprintf "threads: at most 3 at once, in parallel (%d)" (Atomic.get most)) true
      (Atomic.get most >= 2 && Atomic.get most <= 3);
    Pool.close pool;
    Db.close db

(* sqld drops a stream idle for about 10 s, and its transaction with it. *)
let test_idle_transaction =
  with_remote (fun c ->
      fresh_table c "idle" "x";
      let tx = ok (Tx.begin_ c) in
      ignore (ok (Tx.execute tx "INSERT INTO idle VALUES (1)"));
      Unix.sleepf 12.;
      let e = err ~kind:`Transaction_closed (Tx.execute tx "INSERT INTO idle VALUES (2)") in
      Alcotest.(check bool) ("says why: " ^ e.message) true (contains e.message "idle too long");
      Alcotest.(check bool) "the transaction is over" false (Tx.is_open tx);
      ignore (err ~kind:`Transaction_closed (Tx.commit tx));
      Alcotest.(check int64) "the connection is usable" 1L (ok (Conn.execute c "INSERT INTO idle VALUES (3)"));
      Alcotest.(check string) "the expired transaction was rolled back" "1" (count c "idle"))

(* No server needed: nothing listens on the port. *)
let test_server_down () =
  let port = free_port () in
  let t0 = Unix.gettimeofday () in
  let r =
    match Db.open_remote ~timeout:3. ~url:(Printf.sprintf "http://127.0.0.1:%d" port) ~auth_token:token () with
    | Error e -> Error e
    | Ok db -> (
      match Conn.connect db with
      | Error e -> Error e
      | Ok c -> Result.map ignore (Conn.execute c "SELECT 1"))
  in
  let e = err r in
  Alcotest.(check bool) ("network or timeout: " ^ Error.to_string e) true (e.kind = `Network || e.kind = `Timeout);
  Alcotest.(check bool) "transient" true (Error.is_transient e);
  Alcotest.(check bool) "within the timeout" true (Unix.gettimeofday () -. t0 < 5.);
  Alcotest.(check bool) "the token is not in the error" false (contains (Error.to_string e) token)

(* A server that accepts connections and never answers: a listening socket
   nobody reads. *)
let test_server_silent () =
  let s = Unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Unix.bind s (Unix.ADDR_INET (Unix.inet_addr_loopback, 0));
  Unix.listen s 16;
  let port = match Unix.getsockname s with Unix.ADDR_INET (_, p) -> p | _ -> assert false in
  let url = Printf.sprintf "http://127.0.0.1:%d" port in
  let t0 = Unix.gettimeofday () in
  let r =
    match Db.open_remote ~timeout:1. ~url ~auth_token:token () with
    | Error e -> Error e
    | Ok db -> (
      match Conn.connect db with Error e -> Error e | Ok c -> Result.map ignore (Conn.execute c "SELECT 1"))
  in
  let e = err ~kind:`Timeout r in
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "within the timeout (%.2f s)" took) true (took >= 0.9 && took < 2.5);
  Alcotest.(check bool) "transient" true (Error.is_transient e);
  let path = replica_path () in
  let t0 = Unix.gettimeofday () in
  ignore (err ~kind:`Timeout (Db.open_replica ~timeout:1. ~path ~url ~auth_token:token ()));
  let took = Unix.gettimeofday () -. t0 in
  Alcotest.(check bool) (Printf.sprintf "replica: within the timeout (%.2f s)" took) true (took < 2.5);
  cleanup_replica path;
  Unix.close s

(* A fake Hrana server: answers every request with [reply n] (n: the
   request's number, from 0) and keeps the request bodies. One request per
   TCP connection ("Connection: close"). *)
let fake_hrana reply =
  let l, port = listener () in
  let bodies = ref [] in
  let m = Mutex.create () in
  let serve c =
    let buf = Buffer.create 4096 and chunk = Bytes.create 4096 in
    let rec read_until_body () =
      let text = Buffer.contents buf in
      match Str.search_forward (Str.regexp_string "\r\n\r\n") text 0 with
      | i ->
        let length =
          match Str.search_forward (Str.regexp_case_fold "content-length: *\\([0-9]+\\)") text 0 with
          | _ -> int_of_string (Str.matched_group 1 text)
          | exception Not_found -> 0
        in
        let rec more () =
          if Buffer.length buf < i + 4 + length then begin
            let n = Unix.read c chunk 0 4096 in
            if n > 0 then (Buffer.add_subbytes buf chunk 0 n; more ())
          end
        in
        more ();
        String.sub (Buffer.contents buf) (i + 4) (min length (Buffer.length buf - i - 4))
      | exception Not_found ->
        let n = Unix.read c chunk 0 4096 in
        if n = 0 then "" else (Buffer.add_subbytes buf chunk 0 n; read_until_body ())
    in
    let body = read_until_body () in
    Mutex.lock m;
    let n = List.length !bodies in
    bodies := !bodies @ [ body ];
    Mutex.unlock m;
    let status, answer = reply n in
    let resp =
      Printf.sprintf "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
        status (String.length answer) answer
    in
    ignore (Unix.write_substring c resp 0 (String.length resp));
    Unix.close c
  in
  ignore (Thread.create (fun () -> while true do let c, _ = Unix.accept l in serve c done) ());
  (port, fun () -> Mutex.lock m; let b = !bodies in Mutex.unlock m; b)

(* Hrana's base_url: a server may pin a stream to one instance by naming
   the URL its next requests go to; a transaction depends on it. *)
let executed autocommit =
  Printf.sprintf
    {|{"type":"ok","response":{"type":"execute","result":{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}}},{"type":"ok","response":{"type":"get_autocommit","is_autocommit":%b}}|}
    autocommit

(* a statement's result without the autocommit answer (a BEGIN sent
   with the next statement) *)
let ran =
  {|{"type":"ok","response":{"type":"execute","result":{"cols":[],"rows":[],"affected_row_count":0,"last_insert_rowid":null}}}|}

let ok_200 = "200 OK"

let test_base_url () =
  let pinned_port, pinned =
    fake_hrana (fun n -> (ok_200, Printf.sprintf {|{"baton":"b%d","base_url":null,"results":[%s]}|} (n + 2) (executed true)))
  in
  let front_port, front =
    fake_hrana (fun _ ->
        (ok_200, Printf.sprintf {|{"baton":"b1","base_url":"http://127.0.0.1:%d","results":[%s,%s]}|} pinned_port ran (executed false)))
  in
  let db = ok (Db.open_remote ~timeout:3. ~url:(Printf.sprintf "http://127.0.0.1:%d" front_port) ~auth_token:token ()) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "BEGIN"));
  Alcotest.(check bool) "in a transaction" false (ok (Conn.is_autocommit c));
  ignore (ok (Conn.execute c "INSERT INTO t VALUES (1)"));
  ignore (ok (Conn.execute c "COMMIT"));
  Alcotest.(check bool) "committed" true (ok (Conn.is_autocommit c));
  let has_baton b body = contains body (Printf.sprintf {|"baton":"%s"|} b) in
  (match front (), pinned () with
   | [ first ], [ second ] ->
     Alcotest.(check bool) "the first request opens a stream" true (contains first {|"baton":null|});
     Alcotest.(check bool) "BEGIN went with the INSERT, in one request" true (contains first "BEGIN" && contains first "INSERT");
     Alcotest.(check bool) "the next goes to base_url, with the baton" true (has_baton "b1" second && contains second "COMMIT")
   | f, p -> Alcotest.failf "requests: %d at the URL, %d at base_url (expected 1 and 1)" (List.length f) (List.length p));
  Conn.close c;
  Db.close db

(* A server that no longer knows the stream, whatever its 4xx: outside a
   transaction the statement goes again on a new stream; inside one, the
   transaction is reported gone, and the stream is not kept. *)
let test_stream_unknown () =
  let gone = ("404 Not Found", {|{"message":"stream not found","code":"STREAM_NOT_FOUND"}|}) in
  let port, bodies =
    fake_hrana (fun n ->
        match n with
        | 0 -> (ok_200, Printf.sprintf {|{"baton":"s1","base_url":null,"results":[%s]}|} (executed true))
        | 1 -> gone
        | 2 -> (ok_200, Printf.sprintf {|{"baton":"s2","base_url":null,"results":[%s,%s]}|} ran (executed false))
        | 3 -> gone
        | _ -> (ok_200, Printf.sprintf {|{"baton":"s3","base_url":null,"results":[%s]}|} (executed true)))
  in
  let db = ok (Db.open_remote ~timeout:3. ~url:(Printf.sprintf "http://127.0.0.1:%d" port) ~auth_token:token ()) in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "SELECT 1"));
  (* BEGIN waits for the next statement; request 1 (BEGIN, INSERT): 404 on
     stream s1, and nothing ran: again on a new stream, no error *)
  ignore (ok (Conn.execute c "BEGIN"));
  Alcotest.(check bool) "in a transaction" false (ok (Conn.is_autocommit c));
  ignore (ok (Conn.execute c "INSERT INTO t VALUES (1)"));
  Alcotest.(check bool) "still in the transaction" false (ok (Conn.is_autocommit c));
  (* request 3: 404 on s2, where the transaction was: it is gone *)
  let e = err ~kind:`Transaction_closed (Conn.execute c "INSERT INTO t VALUES (2)") in
  Alcotest.(check bool) ("says what the server said: " ^ e.message) true (contains e.message "stream not found");
  Alcotest.(check bool) "back in autocommit" true (ok (Conn.is_autocommit c));
  ignore (ok (Conn.execute c "SELECT 2"));
  (match bodies () with
   | [ _; b1; b2; b3; b4 ] ->
     Alcotest.(check bool) "the 404 was on stream s1" true (contains b1 {|"baton":"s1"|});
     Alcotest.(check bool) "BEGIN and the statement again, on a new stream" true
       (contains b2 {|"baton":null|} && contains b2 "BEGIN" && contains b2 "VALUES (1)");
     Alcotest.(check bool) "the transaction's next statement on s2" true (contains b3 {|"baton":"s2"|} && contains b3 "VALUES (2)");
     Alcotest.(check bool) "after it, a new stream" true (contains b4 {|"baton":null|} && contains b4 "SELECT 2")
   | l -> Alcotest.failf "%d requests, expected 5" (List.length l));
  Conn.close c;
  Db.close db

(* URL forms: what is refused, before any connection, and why. *)
let test_url_forms () =
  let bad url what =
    let e = err ~kind:`Config (Db.open_remote ~url ~auth_token:token ()) in
    Alcotest.(check bool) (Printf.sprintf "%s: %s" url e.message) true (contains e.message what);
    let path = replica_path () in
    let e = err ~kind:`Config (Db.open_replica ~path ~url ~auth_token:token ()) in
    Alcotest.(check bool) (url ^ " (replica)") true (contains e.message what);
    Alcotest.(check bool) "no replica file made" false (Sys.file_exists path)
  in
  bad "ftp://example.com" "unsupported URL scheme \"ftp\"";
  bad "libsql://db.example.io?tls=0" "needs a port";
  bad "libsql://db.example.io?tls=2" "tls";
  bad "libsql://db.example.io?foo=1" "unknown URL parameter \"foo\"";
  bad "https://db.example.io?tls=1" "the URL parameter tls is for libsql://";
  bad "libsql://" "no host";
  bad "db.example.io" "starts with libsql://";
  (* a token in the URL never shows *)
  let secret = "url-token-0a9b8c7d" in
  let e = err ~kind:`Config (Db.open_remote ~url:("libsql://x.io?authToken=" ^ secret ^ "&bogus=1") ~auth_token:"" ()) in
  Alcotest.(check bool) "the URL's token is not in the error" false (contains (Error.to_string e) secret);
  Alcotest.(check bool) "Config.to_string hides it" false
    (contains (Config.to_string (Config.Remote { url = "libsql://x.io?authToken=" ^ secret; auth_token = "" })) secret);
  (* accepted forms, against a port where nothing listens: a network error,
     not a configuration one *)
  let port = free_port () in
  List.iter
    (fun url ->
      let r =
        match Db.open_remote ~timeout:2. ~url ~auth_token:token () with
        | Error e -> Error e
        | Ok db -> Result.bind (Conn.connect db) (fun c -> Result.map ignore (Conn.execute c "SELECT 1"))
      in
      let e = err r in
      Alcotest.(check bool) (Printf.sprintf "%s is accepted: %s" url (Error.to_string e)) true (Error.is_transient e))
    [ Printf.sprintf "libsql://127.0.0.1:%d?tls=0" port; Printf.sprintf "ws://127.0.0.1:%d" port;
      Printf.sprintf "http://127.0.0.1:%d/" port ];
  (* Config.of_env: an unknown scheme is a configuration error, not a file *)
  Unix.putenv "TURSO_DATABASE_URL" "ftp://example.com/db";
  let e = err ~kind:`Config (Db.of_env ~env_file:"/nonexistent/.env" ()) in
  Unix.putenv "TURSO_DATABASE_URL" "";
  Alcotest.(check bool) ("of_env: " ^ e.message) true (contains e.message "unsupported URL scheme \"ftp\"")

(* libsql configures SQLite once per process, and only if it is first: a
   replica opened after a local database must still work (here: fail only
   because nothing listens). *)
let test_local_then_replica () =
  let db = ok (Db.open_local ":memory:") in
  let c = ok (Conn.connect db) in
  ignore (ok (Conn.execute c "CREATE TABLE t (x)"));
  let path = replica_path () in
  (match Lazy.force server with
   | Some url ->
     (* the whole path: open, connect, write through, read locally *)
     let r = ok (Db.open_replica ~path ~url ~auth_token:token ()) in
     let rc = ok (Conn.connect r) in
     ignore (ok (Conn.execute rc "CREATE TABLE IF NOT EXISTS after_local (x)"));
     Alcotest.(check bool) "a replica works after a local database" true (ok (Conn.query_one rc "SELECT count(*) FROM after_local") <> None);
     Conn.close rc;
     Db.close r
   | None ->
     let e = err (Db.open_replica ~timeout:2. ~path ~url:(Printf.sprintf "http://127.0.0.1:%d" (free_port ())) ~auth_token:token ()) in
     Alcotest.(check bool) ("not a panic: " ^ Error.to_string e) true (e.kind <> `Internal));
  cleanup_replica path;
  Conn.close c;
  Db.close db

(* A server whose reply never ends (or says it is 1 GiB): refused as it
   arrives, past max_reply_size, with a Decode error that says so; the
   process reads little more than the limit (it used to buffer the reply
   whole, however large). *)
let test_reply_too_large () =
  Sys.set_signal Sys.sigpipe Sys.Signal_ignore;
  let serve ~declared =
    let l, port = listener () in
    let sent = ref 0 in
    let th =
      Thread.create
        (fun () ->
          let c, _ = Unix.accept l in
          ignore (Unix.read c (Bytes.create 65536) 0 65536);
          let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            ^ (if declared then "content-length: 1073741824\r\n" else "")
            ^ "\r\n{\"baton\":null,\"results\":["
          in
          let chunk = Bytes.make 65536 ' ' in
          (try
             ignore (Unix.write_substring c head 0 (String.length head));
             while !sent < 256 * 1024 * 1024 do
               sent := !sent + Unix.write c chunk 0 65536
             done
           with Unix.Unix_error _ -> ());
          Unix.close c;
          Unix.close l)
        ()
    in
    (Printf.sprintf "http://127.0.0.1:%d" port, sent, th)
  in
  List.iter
    (fun declared ->
      let url, sent, th = serve ~declared in
      let db = ok (Db.open_remote ~timeout:20. ~max_reply_size:(1024 * 1024) ~url ~auth_token:token ()) in
      let c = ok (Conn.connect db) in
      let e = err ~kind:`Decode (Conn.execute c "SELECT 1") in
      Alcotest.(check bool) ("says why: " ^ e.message) true (contains e.message "max_reply_size");
      Alcotest.(check bool) "not transient (a retry would not help)" false (Error.is_transient e);
      Conn.close c;
      Db.close db;
      Thread.join th;
      Alcotest.(check bool)
        (Printf.sprintf "the server could send %d MiB of its 256 before the client stopped reading" (!sent / 1048576))
        true (!sent < 64 * 1024 * 1024))
    [ false; true ];
  ignore (err ~kind:`Misuse (Db.open_remote ~max_reply_size:0 ~url:"http://127.0.0.1:9" ~auth_token:token ()))

(* A SELECT's result too large for one reply (sqld refuses one past 10 MB,
   this client past max_reply_size) is read again as a Hrana cursor, which
   the server streams as it is read: a result of any size reads whole,
   within a transaction too (it was refused). *)
let big_select ?(fail_at = max_int) ?(inf_at = max_int) n =
  Printf.sprintf
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d) \
     SELECT CASE WHEN x < %d THEN x ELSE abs(-9223372036854775808) END AS x, \
     CASE WHEN x < %d THEN 1.5 ELSE 1e999 END AS v, hex(randomblob(512)) AS pad FROM c"
    n fail_at inf_at

let int_of r = match Row.get r 0 with Value.Integer i -> Int64.to_int i | v -> Alcotest.failf "not an integer: %s" (Value.to_string v)
let count rows = ok (Rows.fold rows ~init:0 ~f:(fun n _ -> n + 1))

let test_streamed () =
  match Lazy.force server with
  | None -> Alcotest.fail skipped
  | Some url ->
    let db = ok (Db.open_remote ~max_reply_size:(1024 * 1024) ~url ~auth_token:token ()) in
    let c = ok (Conn.connect db) in
    fresh_table c "sx" "x, pad";
    let requests () = (ok (Db.stats db)).Stats.requests in
    let counted f =
      let before = requests () in
      let r = f () in
      (r, Int64.to_int (Int64.sub (requests ()) before))
    in
    (* about 22 MB: refused whole by the server, then streamed *)
    let (n, sum), reqs = counted (fun () -> ok (Conn.fold c (big_select 20_000) ~init:(0, 0) ~f:(fun (n, s) r -> (n + 1, s + int_of r)))) in
    Alcotest.(check (pair int int)) "every row, in order, once" (20_000, 20_000 * 20_001 / 2) (n, sum);
    Alcotest.(check int) "two requests: the whole reply refused, then streamed" 2 reqs;
    (* a result that fits comes whole, in one request *)
    let n, reqs = counted (fun () -> List.length (ok (Conn.query_list c (big_select 500)))) in
    Alcotest.(check (pair int int)) "small: whole, one request" (500, 1) (n, reqs);
    (* query_one reads a result whole *)
    let e = err ~kind:`Decode (Conn.query_one c (big_select 20_000)) in
    Alcotest.(check bool) ("query_one reads the result whole: " ^ e.message) true (contains e.message "larger than");
    (* another statement while a streamed result is open: the rest is read
       ahead for it ... *)
    let rows = ok (Conn.query c (big_select 2_000)) in
    for _ = 1 to 1_400 do ignore (ok (Rows.next rows)) done;
    ignore (ok (Conn.execute c "INSERT INTO sx VALUES (0, '')"));
    Alcotest.(check int) "all rows after an insert in between" 600 (count rows);
    (* ... up to max_reply_size; past it the reader is told why, the other
       statement runs *)
    let rows = ok (Conn.query c (big_select 20_000)) in
    ignore (ok (Rows.next rows));
    ignore (ok (Conn.execute c "INSERT INTO sx VALUES (0, '')"));
    let e = err ~kind:`Decode (Rows.fold rows ~init:0 ~f:(fun n _ -> n + 1)) in
    Alcotest.(check bool) ("says why: " ^ e.message) true (contains e.message "another statement");
    (* errors after rows: the rows before arrive, then the error; an
       infinity names its column *)
    let seen = ref 0 in
    let e = err ~kind:`Sql (Conn.iter c (big_select ~fail_at:15_000 20_000) ~f:(fun _ -> incr seen)) in
    Alcotest.(check bool) ("the error mid-result: " ^ e.message) true (contains e.message "integer overflow");
    Alcotest.(check bool) (Printf.sprintf "rows before it arrived (%d)" !seen) true (!seen > 5_000 && !seen < 15_000);
    let e = err ~kind:`Decode (Conn.iter c (big_select ~inf_at:15_000 20_000) ~f:ignore) in
    Alcotest.(check bool) ("an infinity names its column: " ^ e.message) true (contains e.message "\"v\"");
    (* inside a transaction: a reply refused by this client part-way (3 MB
       > 1 MiB) still gave the stream's next baton, so the transaction goes
       on, and its own rows stream *)
    ignore (ok (Conn.execute c "BEGIN"));
    ignore (ok (Conn.execute c "DELETE FROM sx"));
    ignore (ok (Conn.execute c (Printf.sprintf "INSERT INTO sx SELECT x, pad FROM (%s)" (big_select 3_000))));
    let n, reqs = counted (fun () -> ok (Conn.fold c "SELECT x, pad FROM sx" ~init:0 ~f:(fun n _ -> n + 1))) in
    Alcotest.(check (pair int int)) "the transaction's rows, refused whole, then streamed" (3_000, 2) (n, reqs);
    let rows = ok (Conn.query c "SELECT x, pad FROM sx ORDER BY x") in
    for _ = 1 to 2_400 do ignore (ok (Rows.next rows)) done;
    ignore (ok (Conn.execute c "INSERT INTO sx VALUES (0, '')"));
    Alcotest.(check int) "interleaved in the transaction" 600 (count rows);
    let rows = ok (Conn.query c (big_select 10_000)) in
    ignore (ok (Rows.next rows));
    Rows.close rows;
    let st = ok (Conn.prepare c (big_select 10_000)) in
    let rows = ok (Stmt.query st) in
    ignore (ok (Rows.next rows));
    ok (Stmt.reset st);
    ignore (err ~kind:`Misuse (Rows.next rows));
    ignore (err ~kind:`Sql (Conn.iter c (big_select ~fail_at:15_000 20_000) ~f:ignore));
    Alcotest.(check bool) "still in the transaction" false (ok (Conn.is_autocommit c));
    ignore (ok (Conn.execute c "COMMIT"));
    Alcotest.(check int) "it committed" 3_001 (int_of (Option.get (ok (Conn.query_one c "SELECT count(*) FROM sx"))));
    (* turso.lwt reads the same way *)
    let lwt_rows =
      Lwt_main.run
        (let open Lwt.Syntax in
         let* db = Lwt.map ok (Turso_lwt.Db.open_remote ~max_reply_size:(1024 * 1024) ~url ~auth_token:token ()) in
         let* c = Lwt.map ok (Turso_lwt.Conn.connect db) in
         let* n = Turso_lwt.Conn.fold c (big_select 5_000) ~init:0 ~f:(fun n _ -> n + 1) in
         let* () = Turso_lwt.Conn.close c in
         let+ () = Turso_lwt.Db.close db in
         ok n)
    in
    Alcotest.(check int) "turso.lwt streams too" 5_000 lwt_rows;
    Stmt.close st;
    Conn.close c;
    Db.close db

(* A streamed result the server stops sending, or cuts off, or sends a row
   too large of: an error within the timeout, never a hang. The fake server
   refuses the whole reply first, as sqld does past its limit. *)
let test_streamed_faults () =
  Sys.set_signal Sys.sigpipe Sys.Signal_ignore;
  let requests = ref [] in
  let serve ending =
    let l, port = listener () in
    let answer c =
      let req = Bytes.create 65536 in
      let n = Unix.read c req 0 65536 in
      requests := Bytes.sub_string req 0 n :: !requests
    in
    let th =
      Thread.create
        (fun () ->
          let c, _ = Unix.accept l in
          answer c;
          let refused =
            {|{"baton":"s1","base_url":null,"results":[{"type":"error","error":{"message":"Response is too large","code":"RESPONSE_TOO_LARGE"}},{"type":"ok","response":{"type":"get_autocommit","is_autocommit":true}}]}|}
          in
          let resp =
            Printf.sprintf "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
              (String.length refused) refused
          in
          ignore (Unix.write_substring c resp 0 (String.length resp));
          Unix.close c;
          let c, _ = Unix.accept l in
          answer c;
          let row = {|{"type":"row","row":[{"type":"integer","value":"1"}]}|} ^ "\n" in
          let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
            ^ {|{"baton":"s2","base_url":null}|} ^ "\n"
            ^ {|{"type":"step_begin","step":0,"cols":[{"name":"x","decltype":null}]}|} ^ "\n"
            ^ String.concat "" (List.init 3 (fun _ -> row))
          in
          (try
             ignore (Unix.write_substring c head 0 (String.length head));
             match ending with
             | `Silent -> Unix.sleepf 4.
             | `Cut -> ()
             | `Huge ->
               let chunk = Bytes.make 65536 ' ' in
               let line = {|{"type":"row","row":[{"type":"text","value":"|} in
               ignore (Unix.write_substring c line 0 (String.length line));
               for _ = 1 to 64 do ignore (Unix.write c chunk 0 65536) done
           with Unix.Unix_error _ -> ());
          Unix.close c;
          Unix.close l)
        ()
    in
    (Printf.sprintf "http://127.0.0.1:%d" port, th)
  in
  List.iter
    (fun (ending, kind, name) ->
      requests := [];
      let url, th = serve ending in
      let db = ok (Db.open_remote ~timeout:1. ~max_reply_size:(1024 * 1024) ~url ~auth_token:token ()) in
      let c = ok (Conn.connect db) in
      let t0 = Unix.gettimeofday () in
      let seen = ref 0 in
      let e = err ~kind (Conn.iter c "SELECT x FROM t" ~f:(fun _ -> incr seen)) in
      let dt = Unix.gettimeofday () -. t0 in
      Alcotest.(check bool) (Printf.sprintf "%s: %s after %.2f s" name (Error.to_string e) dt) true (dt < 3.);
      Alcotest.(check bool) (name ^ ": no row made up") true (!seen <= 3);
      (match List.rev !requests with
       | [ whole; streamed ] ->
         Alcotest.(check bool) (name ^ ": whole first") true (contains whole "POST /v3/pipeline");
         Alcotest.(check bool) (name ^ ": then streamed, on the same stream") true
           (contains streamed "POST /v3/cursor" && contains streamed {|"baton":"s1"|})
       | l -> Alcotest.failf "%s: %d requests, expected 2" name (List.length l));
      (* the server is gone now: the next statement fails cleanly, fast *)
      ignore (err (Conn.execute c "SELECT 1"));
      Conn.close c;
      Db.close db;
      Thread.join th)
    [ (`Silent, `Timeout, "silent"); (`Cut, `Network, "cut off"); (`Huge, `Decode, "a row past max_reply_size") ]

let test_bad_url () =
  let e = err ~kind:`Config (Db.open_remote ~url:"ftp://example.com" ~auth_token:token ()) in
  Alcotest.(check bool) "the token is not in the error" false (contains (Error.to_string e) token)

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  let sqld =
    [ tc "CRUD and parameters" test_crud; tc "errors" test_errors; tc "transactions and batch" test_transactions;
      tc "prepared statements, streaming" test_prepared; tc "turso.lwt: 10,000 concurrent queries" (lwt_concurrency ~replica:false);
      tc "turso.lwt: 10,000 concurrent queries on a replica" (lwt_concurrency ~replica:true);
      tc "turso.lwt: mixed work over 8 connections, some cancelled" lwt_cancel_mixed;
      tc "replica: sync brings another client's writes" test_replica_sync;
      tc "replica: writes reach the primary, read-your-writes" test_replica_writes;
      tc "replica: periodic sync" test_replica_periodic; tc "sync on a database that is not a replica" test_sync_not_replica;
      tc "stats of a replica" test_replica_stats; tc "periodic syncs in the stats" test_periodic_stats;
      tc "server killed during use, then restarted" test_server_killed;
      tc "replica: opens and reads with the primary down or silent" test_replica_offline;
      tc "replica: a long first sync that makes progress" test_replica_long_sync; tc "JWT auth: wrong tokens" test_jwt_auth;
      tc "execute_many, batches: one request, in a transaction too" test_execute_many_one_request;
      tc "replica: execute_many, read-your-writes" test_replica_execute_many;
      tc "an idle transaction expired by the server" test_idle_transaction;
      tc "BEGIN goes with the next statement" test_begin_with_next;
      tc "a pool of remote connections: requests in parallel" test_remote_pool;
      tc "results too large for one reply: streamed, interleaved, in a transaction" test_streamed ]
  in
  (* This alcotest has no "skip": without sqld the group is left out of the
     run, and said so, rather than counted as passed. *)
  if sqld_bin = None then no_server (Printf.sprintf "%d cases not run" (List.length sqld));
  Alcotest.run "turso remote"
    (("no server", (* first: it needs a process where SQLite is not initialized yet *)
       [ tc "a replica after a local database" test_local_then_replica; tc "server down" test_server_down;
         tc "server silent" test_server_silent; tc "Hrana base_url" test_base_url;
         tc "a stream the server does not know" test_stream_unknown; tc "bad URL" test_bad_url; tc "a reply too large" test_reply_too_large;
         tc "a streamed result: silent, cut off, too large" test_streamed_faults; tc "URL forms" test_url_forms ])
     :: (if sqld_bin = None then [] else [ ("sqld", sqld) ]))
