(* Migrations on local files: reading a directory of NNNN_name.sql files,
   two processes' worth of connections migrating one file at once, and the
   Lwt API. (Every mode's semantics: test/modes, case "migrations".) *)

open Turso

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)
let contains s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false

let tmp_dir () =
  let d = Filename.temp_file "turso-migrate" "" in
  Sys.remove d;
  Unix.mkdir d 0o700;
  d

let write dir f text =
  let oc = open_out_bin (Filename.concat dir f) in
  output_string oc text;
  close_out oc

let test_of_dir () =
  let d = tmp_dir () in
  write d "0002_add_email.sql" "ALTER TABLE users ADD COLUMN email TEXT;";
  write d "0001_init.sql" "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";
  write d "10_seed.sql" "INSERT INTO users (name) VALUES ('ada');";
  write d "README.md" "not a migration";
  let ms = ok (Migration.of_dir d) in
  Alcotest.(check (list string)) "in number order, README ignored" [ "0001_init"; "0002_add_email"; "0010_seed" ]
    (List.map Migration.label ms);
  Alcotest.(check string) "the file's SQL" "ALTER TABLE users ADD COLUMN email TEXT;" (List.nth ms 1).sql;
  let config what r sub =
    match r with
    | Ok _ -> Alcotest.failf "%s: accepted" what
    | Error (e : Error.t) ->
      Alcotest.(check bool) (what ^ ": " ^ e.message) true (e.kind = `Config && contains e.message sub)
  in
  write d "3-typo.sql" "SELECT 1";
  config "misnamed" (Migration.of_dir d) "3-typo.sql: the name must be NNNN_name.sql";
  Sys.remove (Filename.concat d "3-typo.sql");
  write d "002_again.sql" "SELECT 1";
  config "one number twice" (Migration.of_dir d) "two migrations with version 2";
  Sys.remove (Filename.concat d "002_again.sql");
  config "no directory" (Migration.of_dir (Filename.concat d "nope")) "migrations directory";
  (* applied from the directory *)
  let db = ok (Db.open_local (Filename.concat d "app.db")) in
  let c = ok (Conn.connect db) in
  Alcotest.(check int) "applied" 3 (List.length (ok (Migrate.run c ms)));
  (match ok (Conn.query_one c "SELECT name, email FROM users") with
   | Some r -> Alcotest.(check string) "the schema they built" "'ada' NULL" (Value.to_string (Row.get r 0) ^ " " ^ Value.to_string (Row.get r 1))
   | None -> Alcotest.fail "no user");
  Conn.close c;
  Db.close db

(* Two connections of their own (as two processes would have), each
   running the same migrations on one file at once, several times: every
   migration applied exactly once (the seed's row is there once). *)
let test_concurrent () =
  for round = 1 to 5 do
    let d = tmp_dir () in
    let path = Filename.concat d "race.db" in
    let ms =
      [ Migration.make ~version:1 ~name:"init" "CREATE TABLE t (x INTEGER)";
        (* long enough for the other to arrive while it runs *)
        Migration.make ~version:2 ~name:"fill"
          "INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c";
        Migration.make ~version:3 ~name:"mark" "INSERT INTO t VALUES (-1)" ]
    in
    let results = Array.make 2 [] in
    (* an error is kept as a result: a failing thread must fail the test *)
    let worker i =
      let db = ok (Db.open_local path) in
      let c = ok (Conn.connect ~busy_timeout:30. db) in
      results.(i) <- (match Migrate.run c ms with Ok l -> List.map Migration.label l | Error e -> [ Error.to_string e ]);
      Conn.close c;
      Db.close db
    in
    let threads = List.init 2 (fun i -> Thread.create worker i) in
    List.iter Thread.join threads;
    let all = List.sort compare (results.(0) @ results.(1)) in
    Alcotest.(check (list string)) (Printf.sprintf "round %d: each applied once, by one of them" round)
      [ "0001_init"; "0002_fill"; "0003_mark" ] all;
    let db = ok (Db.open_local path) in
    let c = ok (Conn.connect db) in
    (match ok (Conn.query_one c "SELECT count(*), sum(x = -1) FROM t") with
     | Some r -> Alcotest.(check string) "the rows once" "200001 1" (Value.to_string (Row.get r 0) ^ " " ^ Value.to_string (Row.get r 1))
     | None -> Alcotest.fail "no count");
    Conn.close c;
    Db.close db
  done

(* A COMMIT in a migration file would commit half of it: refused, and
   nothing of the migration stays. *)
let test_transaction_control () =
  let d = tmp_dir () in
  let db = ok (Db.open_local (Filename.concat d "tc.db")) in
  let c = ok (Conn.connect db) in
  let m = Migration.make ~version:1 ~name:"half" "CREATE TABLE a (x); COMMIT; CREATE TABLE b (y)" in
  (match Migrate.run c [ m ] with
   | Ok _ -> Alcotest.fail "a COMMIT inside a migration accepted"
   | Error e -> Alcotest.(check bool) ("refused: " ^ Error.to_string e) true (e.kind = `Misuse && contains e.message "0001_half"));
  (match ok (Conn.query_one c "SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b')") with
   | Some r -> Alcotest.(check string) "nothing of it stays" "0" (Value.to_string (Row.get r 0))
   | None -> Alcotest.fail "no count");
  Alcotest.(check (option int)) "not recorded" None (ok (Migrate.status c [ m ])).current;
  Conn.close c;
  Db.close db

let test_lwt () =
  let d = tmp_dir () in
  Lwt_main.run
    (let open Lwt.Syntax in
     let* db = Turso_lwt.Db.open_local (Filename.concat d "lwt.db") in
     let db = ok db in
     let* c = Turso_lwt.Conn.connect db in
     let c = ok c in
     let ms = [ Migration.make ~version:1 ~name:"init" "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)" ] in
     let* r = Turso_lwt.Migrate.run c ms in
     Alcotest.(check int) "applied through Lwt" 1 (List.length (ok r));
     let* st = Turso_lwt.Migrate.status c ms in
     Alcotest.(check (option int)) "at 1" (Some 1) (ok st).current;
     let* () = Turso_lwt.Conn.close c in
     Turso_lwt.Db.close db)

let () =
  let tc n f = Alcotest.test_case n `Quick f in
  Alcotest.run "turso migrations"
    [ ("migrations", [ tc "from a directory" test_of_dir; tc "two connections at once" test_concurrent;
        tc "BEGIN, COMMIT inside a migration" test_transaction_control; tc "Lwt" test_lwt ]) ]
