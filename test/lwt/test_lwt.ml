(* The Lwt API: same behaviour as the blocking one, never blocking the event
   loop, many requests in flight, cancellation, streaming.

   Run twice by `dune test`, like the blocking suite: once as is, once under
   GC stress (OCAMLRUNPARAM=s=4k, TURSO_TEST_GC_STRESS=1: a compaction
   between operations). *)

open Turso_lwt

let gc_stress = Sys.getenv_opt "TURSO_TEST_GC_STRESS" = Some "1"
let gc () = if gc_stress then Gc.compact ()
let run f () = Lwt_main.run (f ())
let ( let* ) = Lwt.bind

let ok p =
  let* r = p in
  gc ();
  match r with
  | Ok x -> Lwt.return x
  | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)

let err ?kind p =
  let* r = p in
  match r with
  | Ok _ -> Alcotest.fail "expected an error"
  | Error (e : Error.t) ->
    Option.iter (fun k -> Alcotest.(check string) ("kind of " ^ Error.to_string e) (Error.kind_to_string k) (Error.kind_to_string e.kind)) kind;
    Lwt.return e

let tmp_path () =
  let f = Filename.temp_file "turso-lwt" ".db" in
  Sys.remove f;
  f

let cleanup path = List.iter (fun s -> try Sys.remove (path ^ s) with Sys_error _ -> ()) [ ""; "-wal"; "-shm"; "-journal" ]

let with_file f =
  let path = tmp_path () in
  let* db = ok (Db.open_local path) in
  let* c = ok (Conn.connect db) in
  let* _ = ok (Conn.query_list c "PRAGMA journal_mode=WAL") in
  Lwt.finalize (fun () -> f path db c) (fun () ->
      let* () = Conn.close c in
      let* () = Db.close db in
      cleanup path;
      Lwt.return ())

let with_mem f =
  let* db = ok (Db.open_local ":memory:") in
  let* c = ok (Conn.connect db) in
  Lwt.finalize (fun () -> f c) (fun () -> let* () = Conn.close c in Db.close db)

let scalar c ?params sql =
  let* r = ok (Conn.query_one c ?params sql) in
  match r with Some r -> Lwt.return (Row.get r 0) | None -> Alcotest.failf "no row: %s" sql

let int_of v = match v with Value.Integer i -> Int64.to_int i | v -> Alcotest.failf "not an integer: %s" (Value.to_string v)
let count c t = Lwt.map int_of (scalar c ("SELECT count(*) FROM " ^ t))

(* A statement that keeps SQLite busy for a while (about 100 ms here). *)
let slow_sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700000) SELECT count(*) FROM n"

let test_basics () =
  with_mem (fun c ->
      let* _ = ok (Conn.execute c "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT UNIQUE, r REAL, b BLOB)") in
      let* n = ok (Conn.execute c "INSERT INTO t (s, r, b) VALUES (?, ?, ?)"
                      ~params:(`Positional Value.[ text "héllo"; float 1.5; blob "\000\001" ])) in
      Alcotest.(check int64) "changes" 1L n;
      let* id = ok (Conn.last_insert_rowid c) in
      Alcotest.(check int64) "rowid" 1L id;
      let* rows = ok (Conn.query_list c "SELECT s, r, b FROM t WHERE id = :id" ~params:(`Named [ ("id", Value.int 1) ])) in
      Alcotest.(check (list string)) "row" [ "'héllo'"; "1.5"; "x'0001'" ]
        (List.map Value.to_string (Array.to_list (Row.values (List.hd rows))));
      let* e = err ~kind:`Sql (Conn.execute c "SELEC 1") in
      Alcotest.(check (option string)) "failing SQL" (Some "SELEC 1") e.sql;
      let* e = err ~kind:`Constraint (Conn.execute c "INSERT INTO t (s) VALUES ('héllo')") in
      Alcotest.(check (option string)) "code" (Some "SQLITE_CONSTRAINT_UNIQUE") (Option.map Error.code_name e.code);
      let* _ = err ~kind:`Misuse (Conn.execute c "SELECT ?" ~params:(`Positional [])) in
      let* _ = err ~kind:`Misuse (Conn.execute c "SELECT 1; SELECT 2") in
      let* _ = err ~kind:`Internal (Private.test_panic ()) in
      let* () = ok (Conn.batch c "INSERT INTO t (s) VALUES ('a'); INSERT INTO t (s) VALUES ('b')") in
      let* _ = err ~kind:`Constraint (Conn.batch c "INSERT INTO t (s) VALUES ('c'); INSERT INTO t (s) VALUES ('a')") in
      let* n = count c "t" in
      Alcotest.(check int) "atomic batch" 3 n;
      let* s = ok (Conn.prepare c "SELECT s FROM t WHERE id = ?") in
      let* r = ok (Stmt.query_one s ~params:(`Positional [ Value.int 2 ])) in
      Alcotest.(check string) "prepared" "'a'" (Value.to_string (Row.get (Option.get r) 0));
      let* n = ok (Stmt.parameter_count s) in
      Alcotest.(check int) "parameter_count" 1 n;
      let* () = Stmt.close s in
      let* _ = err ~kind:`Closed (Stmt.query s) in
      Lwt.return ())

let test_transactions () =
  with_mem (fun c ->
      let* _ = ok (Conn.execute c "CREATE TABLE t (x)") in
      let* v = ok (Conn.with_transaction c (fun c -> Lwt.map (Result.map (fun _ -> 42)) (Conn.execute c "INSERT INTO t VALUES (1)"))) in
      Alcotest.(check int) "committed value" 42 v;
      let* _ = err (Conn.with_transaction c (fun c ->
          let* _ = Conn.execute c "INSERT INTO t VALUES (2)" in
          Lwt.return (Error (Error.make `Misuse "no")))) in
      let* r = Lwt.catch
          (fun () -> Lwt.map (fun _ -> "returned") (Conn.with_transaction c (fun c ->
               let* _ = Conn.execute c "INSERT INTO t VALUES (3)" in
               Lwt.fail (Failure "boom"))))
          (function Failure m -> Lwt.return m | e -> Lwt.fail e) in
      Alcotest.(check string) "exception re-raised" "boom" r;
      let* n = count c "t" in
      Alcotest.(check int) "only the committed row" 1 n;
      let* auto = ok (Conn.is_autocommit c) in
      Alcotest.(check bool) "no transaction left open" true auto;
      let* () = ok (Conn.execute_transaction c [ "INSERT INTO t VALUES (4)"; "INSERT INTO t VALUES (5)" ]) in
      let* n = count c "t" in
      Alcotest.(check int) "execute_transaction" 3 n;
      Lwt.return ())

let test_closed () =
  let* db = ok (Db.open_local ":memory:") in
  let* c = ok (Conn.connect db) in
  let* () = Conn.close c in
  let* () = Conn.close c in
  let* _ = err ~kind:`Closed (Conn.execute c "SELECT 1") in
  let* _ = err ~kind:`Closed (Conn.prepare c "SELECT 1") in
  let* () = Db.close db in
  let* _ = err ~kind:`Closed (Conn.connect db) in
  Lwt.return ()

(* The event loop keeps running while queries (some slow) run. *)
(* A ticker every 1 ms on the event loop; the function returned stops it
   and gives the ticks and the longest gap between two (seconds). *)
let start_ticker () =
  let stop = ref false and max_gap = ref 0. and ticks = ref 0 in
  let rec tick last =
    if !stop then Lwt.return ()
    else
      let* () = Lwt_unix.sleep 0.001 in
      let now = Unix.gettimeofday () in
      max_gap := Float.max !max_gap (now -. last);
      incr ticks;
      tick now
  in
  let t = tick (Unix.gettimeofday ()) in
  fun () -> stop := true; Lwt.map (fun () -> (!ticks, !max_gap)) t

let test_ticker () =
  with_file (fun _ db _ ->
      let* conns = Lwt_list.map_s (fun _ -> ok (Conn.connect db)) (List.init 8 Fun.id) in
      let conns = Array.of_list conns in
      (* what blocking the loop on a slow query would cost: one, timed now,
         in this run (a fixed bound would fail on a loaded machine, where
         the main thread can wait for a core longer than that) *)
      let slower_sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n" in
      let t0 = Unix.gettimeofday () in
      let* _ = scalar conns.(0) slower_sql in
      let slow = Unix.gettimeofday () -. t0 in
      let bound = Float.max 0.05 (slow /. 2.) in
      let stop_ticker = start_ticker () in
      let queries =
        List.init 1000 (fun i ->
            let c = conns.(i mod Array.length conns) in
            if i mod 100 = 0 then Lwt.map (fun v -> int_of v = 3000000) (scalar c slower_sql)
            else Lwt.map (fun v -> int_of v = i) (scalar c "SELECT ?" ~params:(`Positional [ Value.int i ])))
      in
      let* results = Lwt.all queries in
      let* ticks, max_gap = stop_ticker () in
      Alcotest.(check bool) "every result correct" true (List.for_all Fun.id results);
      Alcotest.(check bool) (Printf.sprintf "ticks happened (%d)" ticks) true (ticks > 10);
      Printf.printf "ticker: %d ticks, longest gap %.1f ms (bound %.1f ms: half a slow query)\n%!" ticks
        (max_gap *. 1000.) (bound *. 1000.);
      if max_gap > bound then Alcotest.failf "the event loop stalled for %.0f ms" (max_gap *. 1000.);
      Lwt_list.iter_s Conn.close (Array.to_list conns))

let test_10k_concurrent () =
  with_file (fun _ db c ->
      let* _ = ok (Conn.execute c "CREATE TABLE t (i INTEGER)") in
      let* conns = Lwt_list.map_s (fun _ -> ok (Conn.connect db)) (List.init 4 Fun.id) in
      let conns = Array.of_list (c :: conns) in
      let n = 10_000 in
      let jobs =
        List.init n (fun i ->
            let c = conns.(i mod Array.length conns) in
            if i mod 10 = 0 then Lwt.map (fun _ -> true) (ok (Conn.execute c "INSERT INTO t VALUES (?)" ~params:(`Positional [ Value.int i ])))
            else Lwt.map (fun v -> int_of v = i * 2) (scalar c "SELECT ? * 2" ~params:(`Positional [ Value.int i ])))
      in
      Alcotest.(check bool) "all in flight at once" true (Private.pending () > 1000);
      let* results = Lwt.all jobs in
      Alcotest.(check int) "every result correct" n (List.length (List.filter Fun.id results));
      Alcotest.(check int) "nothing left pending" 0 (Private.pending ());
      let* rows = count c "t" in
      Alcotest.(check int) "every write done" (n / 10) rows;
      Lwt_list.iter_s Conn.close (List.tl (Array.to_list conns)))

let test_cancel () =
  with_file (fun _ _ c ->
      let* _ = ok (Conn.execute c "CREATE TABLE t (x)") in
      (* cancel a running query: its promise fails, the connection goes on *)
      let slow = Conn.query_one c slow_sql in
      let* () = Lwt_unix.sleep 0.01 in
      Lwt.cancel slow;
      Alcotest.(check bool) "cancelled" true (match Lwt.state slow with Lwt.Fail Lwt.Canceled -> true | _ -> false);
      (* cancel a queued write before it starts: it never runs *)
      let slow = scalar c slow_sql in
      let write = Conn.execute c "INSERT INTO t VALUES (1)" in
      Lwt.cancel write;
      let* v = slow in
      Alcotest.(check int) "the query before it completes" 700000 (int_of v);
      let* n = count c "t" in
      Alcotest.(check int) "the cancelled write did not run" 0 n;
      (* cancel inside a transaction: rolled back, nothing of it commits *)
      let tx =
        Conn.with_transaction c (fun c ->
            let* _ = Conn.execute c "INSERT INTO t VALUES (2)" in
            let* _ = Conn.query_one c slow_sql in
            Conn.execute c "INSERT INTO t VALUES (3)")
      in
      let* () = Lwt_unix.sleep 0.02 in
      Lwt.cancel tx;
      let* () = Lwt.catch (fun () -> Lwt.map ignore tx) (fun _ -> Lwt.return ()) in
      let* auto = ok (Conn.is_autocommit c) in
      Alcotest.(check bool) "transaction rolled back, not left open" true auto;
      let* n = count c "t" in
      Alcotest.(check int) "nothing of the cancelled transaction" 0 n;
      Alcotest.(check int) "nothing left pending" 0 (Private.pending ());
      Lwt.return ())

(* Many writes queued behind a slow statement on one connection, a third
   of them cancelled at once: not one cancelled write may commit (each
   promise said Canceled), every other one does. Repeated, as a race would
   show only sometimes. Tens of cancelled writes used to commit: a query
   was two jobs (prepare, then run), and the writes ran between them,
   before the cancellations came; a query is one job now. Both a query
   issued as text and a prepared statement are tried. *)
let test_cancel_many_queued () =
  with_file (fun _ _ c ->
      let* _ = ok (Conn.execute c "CREATE TABLE m (round INTEGER, x INTEGER)") in
      let* slow_stmt = ok (Conn.prepare c slow_sql) in
      let rounds = if gc_stress then 2 else 6 and n = 3000 in
      let rec round r =
        if r > rounds then Lwt.return ()
        else begin
          let slow = if r mod 2 = 0 then Stmt.query_one slow_stmt else Conn.query_one c slow_sql in
          let writes =
            Array.init n (fun i ->
                Conn.execute c "INSERT INTO m VALUES (?, ?)" ~params:(`Positional [ Value.int r; Value.int i ]))
          in
          let cancelled i = i mod 3 = 0 in
          Array.iteri (fun i w -> if cancelled i then Lwt.cancel w) writes;
          let* _ = slow in
          let* () =
            Lwt_list.iter_s
              (fun i ->
                let w = writes.(i) in
                if cancelled i then
                  Lwt.catch
                    (fun () -> Lwt.map (fun _ -> Alcotest.failf "write %d was cancelled, yet resolved" i) w)
                    (function Lwt.Canceled -> Lwt.return () | e -> Lwt.fail e)
                else Lwt.map ignore (ok w))
              (List.init n Fun.id)
          in
          let* rows = ok (Conn.query_list c "SELECT x FROM m WHERE round = ?" ~params:(`Positional [ Value.int r ])) in
          let got = List.map (fun row -> match Row.get row 0 with Value.Integer i -> Int64.to_int i | _ -> -1) rows in
          let wrong = List.filter cancelled got in
          Alcotest.(check int) (Printf.sprintf "round %d: cancelled writes that committed (%d)" r (List.length wrong)) 0 (List.length wrong);
          Alcotest.(check int) (Printf.sprintf "round %d: the others all committed" r) (n - ((n + 2) / 3)) (List.length got);
          round (r + 1)
        end
      in
      let* () = round 1 in
      let* () = Stmt.close slow_stmt in
      Alcotest.(check int) "nothing left pending" 0 (Private.pending ());
      Lwt.return ())

(* A connection runs its operations in the order they were issued, also
   when one of them takes several steps in the stub (a query: prepare, then
   read): a query issued before an insert does not see it. All three of
   query_one, query_list and a streamed query used to see it, every time. *)
let test_order () =
  with_mem (fun c ->
      let* _ = ok (Conn.execute c "CREATE TABLE o (x)") in
      let n_of = function
        | Ok (Some r) -> (match Row.get r 0 with Value.Integer i -> Int64.to_int i | _ -> -1)
        | _ -> -1
      in
      let rec go i =
        if i = 100 then Lwt.return ()
        else begin
          let q1 = Conn.query_one c "SELECT count(*) FROM o" in
          let q2 = Conn.query_list c "SELECT count(*) FROM o" in
          let q3 = Conn.fold c "SELECT x FROM o" ~init:0 ~f:(fun n _ -> n + 1) in
          let w = Conn.execute c "INSERT INTO o VALUES (1)" in
          let* r1 = q1 in
          let* r2 = q2 in
          let* r3 = q3 in
          let* _ = ok w in
          Alcotest.(check int) "query_one before the insert" i (n_of r1);
          Alcotest.(check int) "query_list before the insert" i (n_of (Result.map (function r :: _ -> Some r | [] -> None) r2));
          Alcotest.(check int) "a streamed query before the insert" i (match r3 with Ok n -> n | Error _ -> -1);
          go (i + 1)
        end
      in
      go 0)

(* After fork(), a child that uses turso.lwt gets Misuse errors at once
   (open_local used to never return). *)
let test_fork () =
  with_mem (fun c ->
      let* _ = ok (Conn.execute c "CREATE TABLE f (x)") in
      flush_all ();
      match Unix.fork () with
      | 0 ->
        (* already inside Lwt_main.run: the promises must be resolved at
           once, without the event loop *)
        let misuse p =
          match Lwt.state p with Lwt.Return (Error (e : Error.t)) -> e.kind = `Misuse | _ -> false
        in
        let checks =
          try
            [ misuse (Db.open_local ":memory:"); misuse (Conn.execute c "INSERT INTO f VALUES (1)");
              misuse (Conn.query_list c "SELECT 1"); misuse (Conn.query_one c "SELECT 1") ]
          with _ -> [ false ]
        in
        Unix._exit (if List.for_all Fun.id checks then 0 else 3)
      | pid ->
        let status = snd (Unix.waitpid [] pid) in
        Alcotest.(check bool) "the child got Misuse errors, no hang" true (status = Unix.WEXITED 0);
        let* _ = ok (Conn.execute c "INSERT INTO f VALUES (2)") in
        let* n = count c "f" in
        Alcotest.(check int) "the parent goes on" 1 n;
        Lwt.return ())

let test_streaming () =
  with_mem (fun c ->
      let* _ = ok (Conn.execute c "CREATE TABLE t (i INTEGER)") in
      let* ins = ok (Conn.prepare c "INSERT INTO t VALUES (?)") in
      let* _ = ok (Stmt.execute_many ins (List.init 100_000 (fun i -> [ Value.int i ]))) in
      let* rows = ok (Conn.query c "SELECT i FROM t ORDER BY i") in
      let* n, sum =
        Lwt_seq.fold_left
          (fun (n, sum) r -> match r with Ok row -> (n + 1, sum + int_of (Row.get row 0)) | Error e -> Alcotest.fail (Error.to_string e))
          (0, 0) (rows_seq rows)
      in
      Alcotest.(check int) "rows" 100_000 n;
      Alcotest.(check int) "sum" (99_999 * 100_000 / 2) sum;
      let* total = ok (Conn.fold c "SELECT i FROM t" ~init:0 ~f:(fun acc r -> acc + int_of (Row.get r 0))) in
      Alcotest.(check int) "fold" sum total;
      let* rows = ok (Conn.query c "SELECT i FROM t") in
      let* first = ok (Rows.next rows) in
      Alcotest.(check bool) "first row" true (Option.is_some first);
      let* () = Rows.close rows in
      let* _ = err ~kind:`Closed (Rows.next rows) in
      Lwt.return ())

type item = { id : int; name : string option } [@@deriving turso]

let test_derived_decoders () =
  with_mem (fun c ->
      let* () = ok (Conn.batch c "CREATE TABLE items (id INTEGER, name TEXT); INSERT INTO items VALUES (1, 'a'), (2, NULL)") in
      let* items = ok (Conn.query_map c "SELECT id, name FROM items ORDER BY id" ~f:item_of_row) in
      Alcotest.(check bool) "decoded" true (items = [ { id = 1; name = Some "a" }; { id = 2; name = None } ]);
      let* _ = ok (Conn.execute c "INSERT INTO items VALUES (:id, :name)" ~params:(item_to_params { id = 3; name = Some "c" })) in
      let* rows = ok (Conn.query c "SELECT id, name FROM items WHERE id = 3") in
      let* decoded =
        Lwt_seq.fold_left (fun acc r -> match r with Ok row -> item_of_row row :: acc | Error e -> Error e :: acc) [] (rows_seq rows)
      in
      Alcotest.(check bool) "streamed and decoded" true (decoded = [ Ok { id = 3; name = Some "c" } ]);
      Lwt.return ())

(* retry sleeps with Lwt: a ticker keeps running while it waits. *)
let test_retry_stats () =
  (
      let ticks = ref 0 in
      let stop = ref false in
      let rec ticker () = if !stop then Lwt.return () else (incr ticks; Lwt.bind (Lwt_unix.sleep 0.005) ticker) in
      let t = ticker () in
      let calls = ref 0 in
      let* r =
        retry ~attempts:4 ~base_delay:0.05 (fun () ->
            incr calls;
            Lwt.return (if !calls < 4 then Error (Error.make `Busy "locked") else Ok !calls))
      in
      stop := true;
      let* () = t in
      Alcotest.(check int) "fourth attempt" 4 (match r with Ok n -> n | Error _ -> -1);
      Alcotest.(check bool) (Printf.sprintf "the loop ran during the waits (%d ticks)" !ticks) true (!ticks >= 5);
      let* db = ok (Db.open_local ":memory:") in
      let* c = ok (Conn.connect db) in
      let* _ = ok (Conn.execute c "CREATE TABLE t (x)") in
      let* () = ok (Conn.batch c "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)") in
      let* st = ok (Db.stats db) in
      Alcotest.(check int64) "statements" 3L st.Stats.statements;
      Alcotest.(check string) "mode" "memory" (Stats.mode_to_string st.Stats.mode);
      let* () = Conn.close c in
      Db.close db)

(* Pool under Lwt: at most [size] connections in use, the rest wait (up to
   max_wait, then Busy); a cancelled waiter gives up its place without
   losing a permit. *)
let test_pool () =
  let path = tmp_path () in
  let* db = ok (Db.open_local path) in
  let* c = ok (Conn.connect db) in
  let* _ = ok (Conn.query_list c "PRAGMA journal_mode=WAL") in
  let* _ = ok (Conn.execute c "CREATE TABLE p (id INTEGER PRIMARY KEY, v INTEGER)") in
  let* () = Conn.close c in
  let pool = Result.get_ok (Pool.create ~size:4 ~max_wait:2. db) in
  let in_use = ref 0 and most = ref 0 in
  let one k =
    Pool.use pool (fun c ->
        incr in_use;
        most := max !most !in_use;
        let* r = Conn.execute c "INSERT INTO p (v) VALUES (?)" ~params:(`Positional [ Value.int k ]) in
        let* () = Lwt_unix.sleep 0.002 in
        decr in_use;
        Lwt.return r)
  in
  let* rs = Lwt.all (List.init 64 one) in
  List.iter (function Ok _ -> () | Error e -> Alcotest.failf "a call failed: %s" (Error.to_string e)) rs;
  Alcotest.(check int) "4 connections in use at once, never more" 4 !most;
  Alcotest.(check int) "4 made, all free" 4 (Pool.idle pool);
  (* all 4 held: a fifth waits max_wait, then Busy *)
  let small = Result.get_ok (Pool.create ~size:1 ~max_wait:0.1 db) in
  let release, released = Lwt.wait () in
  let holder = Pool.use small (fun _ -> let* () = release in Lwt.return (Ok ())) in
  let* e = err ~kind:`Busy (Pool.use small (fun _ -> Lwt.return (Ok ()))) in
  Alcotest.(check bool) ("says why: " ^ e.message) true (String.length e.message > 0);
  (* a waiter cancelled: its place is not kept, no permit lost *)
  let waiter = Pool.use small (fun _ -> Lwt.return (Ok ())) in
  Lwt.cancel waiter;
  Lwt.wakeup released ();
  let* _ = ok holder in
  let* () = ok (Pool.use small (fun _ -> Lwt.return (Ok ()))) in
  (* a transaction left open is rolled back before the next call *)
  let* _ = ok (Pool.use small (fun c -> let* _ = ok (Conn.execute c "BEGIN") in Conn.execute c "DELETE FROM p")) in
  let* n = ok (Pool.use small (fun c -> Conn.query_one c "SELECT count(*) FROM p")) in
  Alcotest.(check string) "rolled back" "64" (match n with Some r -> Value.to_string (Row.get r 0) | None -> "?");
  let* () = Pool.close small in
  let* () = Pool.close pool in
  let* e = err ~kind:`Closed (Pool.use pool (fun _ -> Lwt.return (Ok ()))) in
  ignore e;
  let* () = Db.close db in
  cleanup path;
  Lwt.return ()

(* is_autocommit answers at once when nothing of the connection is queued
   (the pool asks after every call), but never ahead of a call issued
   before it and not yet run. *)
let test_autocommit_order () =
  with_file (fun _ _ c ->
      let queued = List.init 20 (fun i -> Conn.execute c "SELECT ?" ~params:(`Positional [ Value.int i ])) in
      let b = Conn.execute c "BEGIN" in
      let* a = ok (Conn.is_autocommit c) in
      Alcotest.(check bool) "the BEGIN issued before it is seen" false a;
      let* _ = Lwt.all queued in
      let* _ = ok b in
      let* a = ok (Conn.is_autocommit c) in
      Alcotest.(check bool) "in the transaction" false a;
      let c2 = Conn.execute c "COMMIT" in
      let* a = ok (Conn.is_autocommit c) in
      Alcotest.(check bool) "the COMMIT issued before it is seen" true a;
      let* _ = ok c2 in
      Lwt.return ())

(* One-row queries of a prepared read-only statement are answered at once
   when nothing of the connection is queued (no hand-off to a worker): a
   loop of them still lets a 1 ms ticker run (the loop gets a turn at
   least every millisecond or so), a long one goes to a worker (a budget of
   SQLite steps), and each is counted once. *)
let test_quick_calls () =
  with_file (fun _ db c ->
      let* _ = ok (Conn.execute c "CREATE TABLE q (id INTEGER PRIMARY KEY, v TEXT)") in
      let* ins = ok (Conn.prepare c "INSERT INTO q VALUES (?, ?)") in
      let* _ = ok (Stmt.execute_many ins (List.init 1000 (fun i -> Value.[ int i; text (string_of_int i) ]))) in
      let* sel = ok (Conn.prepare c "SELECT v FROM q WHERE id = ?") in
      let* before = ok (Db.stats db) in
      let stop_ticker = start_ticker () in
      let n = 50_000 in
      let t0 = Unix.gettimeofday () in
      let rec loop i =
        if i = n then Lwt.return ()
        else
          let* r = ok (Stmt.query_one sel ~params:(`Positional [ Value.int (i mod 1000) ])) in
          (match r with
           | Some row when Row.get row 0 = Value.text (string_of_int (i mod 1000)) -> ()
           | _ -> Alcotest.failf "wrong row for %d" i);
          loop (i + 1)
      in
      let* () = loop 0 in
      let took = Unix.gettimeofday () -. t0 in
      let* ticks, max_gap = stop_ticker () in
      Printf.printf "quick calls: %d lookups in %.0f ms, %d ticks, longest gap %.1f ms\n%!" n (took *. 1000.) ticks (max_gap *. 1000.);
      Alcotest.(check bool) (Printf.sprintf "the ticker ran during the loop (%d ticks in %.0f ms)" ticks (took *. 1000.)) true
        (float ticks >= took /. 0.01);
      (* a one-row query past the budget goes to a worker: the loop keeps ticking *)
      let* slow = ok (Conn.prepare c "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT count(*) FROM n") in
      let stop_ticker = start_ticker () in
      let* r = ok (Stmt.query_one slow) in
      let* ticks, _ = stop_ticker () in
      Alcotest.(check int) "the long query's row" 2_000_000 (match r with Some row -> int_of (Row.get row 0) | None -> -1);
      Alcotest.(check bool) (Printf.sprintf "ticks during the long query (%d)" ticks) true (ticks >= 3);
      let* after = ok (Db.stats db) in
      Alcotest.(check int64) "each statement counted once" (Int64.of_int (n + 1)) (Int64.sub after.Stats.statements before.Stats.statements);
      Lwt.return ())

(* The window in which quick calls are answered at once: it starts at the
   turn's first call, so a call right after the loop slept (an idle spell
   longer than the window) is still answered at once; and a caller that
   does work of its own between calls still lets the loop run about every
   millisecond (the clock is not skipped for a fixed number of calls). *)
let test_quick_window () =
  with_file (fun _ _ c ->
      let* _ = ok (Conn.execute c "CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)") in
      let* _ = ok (Conn.execute c "INSERT INTO w VALUES (1, 'one')") in
      let* sel = ok (Conn.prepare c "SELECT v FROM w WHERE id = ?") in
      let lookup () = Stmt.query_one sel ~params:(`Positional [ Value.int 1 ]) in
      let* _ = lookup () in
      let rec after_idle k =
        if k = 0 then Lwt.return ()
        else
          let* () = Lwt_unix.sleep 0.005 in
          let p = lookup () in
          Alcotest.(check bool) "answered at once after the loop slept 5 ms" false (Lwt.is_sleeping p);
          let* r = ok p in
          Alcotest.(check bool) "its row" true (r <> None);
          after_idle (k - 1)
      in
      let* () = after_idle 5 in
      (* 40 calls, each after 300 us of the caller's own work: the longest
         stretch of them without a loop turn (a call that waited for a
         worker starts a new stretch when it comes back) *)
      let turns = ref 0 in
      let hook = Lwt_main.Enter_iter_hooks.add_first (fun () -> incr turns) in
      let busy () = let t = Unix.gettimeofday () in while Unix.gettimeofday () -. t < 300e-6 do () done in
      let start = ref (Unix.gettimeofday ()) and longest = ref 0. in
      let rec work k =
        if k = 0 then Lwt.return ()
        else begin
          let before = !turns in
          busy ();
          let* _ = ok (lookup ()) in
          let now = Unix.gettimeofday () in
          if !turns = before then longest := Float.max !longest (now -. !start) else start := now;
          work (k - 1)
        end
      in
      let* () = work 40 in
      Lwt_main.Enter_iter_hooks.remove hook;
      Printf.printf "caller's work: %d loop turns, the longest stretch without one %.1f ms\n%!" !turns (!longest *. 1000.);
      Alcotest.(check bool)
        (Printf.sprintf "no stretch past 2.5 ms without the loop (longest %.1f ms)" (!longest *. 1000.))
        true (!longest <= 2.5e-3);
      Lwt.return ())

let () =
  let tc name f = Alcotest.test_case name `Quick (run f) in
  let suites =
    [ ( "lwt",
        [ tc "operations and errors" test_basics; tc "transactions" test_transactions; tc "closed handles" test_closed;
          tc "operations in the order issued" test_order; tc "fork: the child is refused" test_fork; tc "cancellation" test_cancel; tc "cancelling many queued writes" test_cancel_many_queued; tc "streaming" test_streaming; tc "derived decoders" test_derived_decoders;
          tc "retry and stats" test_retry_stats; tc "pool" test_pool;
          tc "is_autocommit after calls not yet run" test_autocommit_order;
          tc "one-row queries answered at once, the loop still runs" test_quick_calls;
          tc "quick calls' window" test_quick_window ] );
      ( "concurrency",
        [ tc "1 ms ticker keeps ticking during 1,000 queries" test_ticker; tc "10,000 concurrent queries" test_10k_concurrent ] ) ]
  in
  let suites = if gc_stress then List.filter (fun (n, _) -> n <> "concurrency") suites else suites in
  Alcotest.run (if gc_stress then "turso.lwt (GC stress)" else "turso.lwt") suites
