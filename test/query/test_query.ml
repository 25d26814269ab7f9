(* Checked queries at run time: the values let%query generates, run by
   Turso.Query and Turso_lwt.Query on a local file migrated from the same
   migrations directory the ppx checked them against. (What they compile
   to: golden.ml; what they refuse: bad_*.ml; every mode: test/modes.) *)

let migrations = [%migrations "migrations"]

let%query add_user = "INSERT INTO users (name, email, score) VALUES (:name, :email, :score)"
let%query add_returning = "INSERT INTO users (name) VALUES (?) RETURNING id"
let%query find_user = "SELECT id, name, email, score, active FROM users WHERE id = :id"
let%query count_users : int = "SELECT count(*) FROM users"
let%query names_from = "SELECT name FROM users WHERE score >= :min ORDER BY score DESC, id"
let%query set_score = "UPDATE users SET score = :score WHERE id = :id"
let%query add_post = "INSERT INTO posts (user_id, title, created_at) VALUES (:user_id, :title, :at)"
let%query titles = "SELECT u.name, p.title FROM users u LEFT JOIN posts p ON p.user_id = u.id ORDER BY u.id, p.id"
let%query pair : string * float option = "SELECT name, score FROM users WHERE id = ?"
let%query ids_in = "SELECT id FROM users WHERE name IN (:a, :b) ORDER BY id"
let%query all_ids = "SELECT id FROM users ORDER BY id"
let%query page = "SELECT id FROM users ORDER BY id LIMIT :n OFFSET :skip"
let%query double ~(x : int) : int = "SELECT :x * 2"

type person = { id : int; name : string }

let%query person : person = "SELECT id, name FROM users WHERE id = :id"

open Turso

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Error.to_string e)

let fresh () =
  let path = Filename.temp_file "turso-query" ".db" in
  let db = ok (Db.open_local path) in
  let conn = ok (Conn.connect db) in
  ignore (ok (Migrate.run conn (ok (Migration.of_dir "migrations"))));
  (db, conn)

let test_rows () =
  let _db, conn = fresh () in
  Alcotest.(check int64) "insert: one row" 1L (ok (Query.exec conn (add_user ~name:"ada" ~email:(Some "ada@x") ~score:(Some 9.5))));
  ignore (ok (Query.exec conn (add_user ~name:"bob" ~email:None ~score:None)));
  let id = ok (Query.one conn (add_returning "cy")) in
  Alcotest.(check int) "RETURNING id" 3 id;
  let u = ok (Query.one conn (find_user ~id:1)) in
  Alcotest.(check (pair string (option string))) "record" ("ada", Some "ada@x") (u.name, u.email);
  Alcotest.(check (option (float 0.))) "score" (Some 9.5) u.score;
  Alcotest.(check bool) "BOOLEAN NOT NULL DEFAULT 1" true u.active;
  let b = ok (Query.one conn (find_user ~id:2)) in
  Alcotest.(check (option string)) "NULL is None" None b.email;
  Alcotest.(check bool) "opt: no row" true (ok (Query.opt conn (find_user ~id:99)) = None);
  (match Query.one conn (find_user ~id:99) with
  | Error e -> Alcotest.(check bool) "one: no row is a Decode error" true (e.kind = `Decode)
  | Ok _ -> Alcotest.fail "one returned a row that is not there");
  Alcotest.(check int) "count" 3 (ok (Query.one conn count_users));
  Alcotest.(check int64) "update" 1L (ok (Query.exec conn (set_score ~score:(Some 7.) ~id:3)));
  Alcotest.(check (list string)) "list, in order" [ "ada"; "cy" ] (ok (Query.list conn (names_from ~min:5.)));
  Alcotest.(check int) "fold" 6 (ok (Query.fold conn all_ids ~init:0 ~f:( + )));
  let seen = ref [] in
  ok (Query.iter conn all_ids ~f:(fun i -> seen := i :: !seen));
  Alcotest.(check (list int)) "iter" [ 3; 2; 1 ] !seen;
  ignore (ok (Query.exec conn (add_post ~user_id:1 ~title:"hello" ~at:0)));
  Alcotest.(check (list (pair string (option string)))) "LEFT JOIN: the right side may be NULL"
    [ ("ada", Some "hello"); ("bob", None); ("cy", None) ]
    (List.map (fun (r : titles) -> (r.name, r.title)) (ok (Query.list conn titles)));
  Alcotest.(check (pair string (option (float 0.)))) "tuple" ("bob", None) (ok (Query.one conn (pair 2)));
  Alcotest.(check (list int)) "IN" [ 1; 3 ] (ok (Query.list conn (ids_in ~a:"ada" ~b:"cy")));
  Alcotest.(check (list int)) "LIMIT/OFFSET" [ 2 ] (ok (Query.list conn (page ~n:1 ~skip:1)));
  Alcotest.(check int) "annotated parameter" 42 (ok (Query.one conn (double ~x:21)));
  let p = ok (Query.one conn (person ~id:2)) in
  Alcotest.(check (pair int string)) "the user's record" (2, "bob") (p.id, p.name);
  (match Query.exec conn (add_user ~name:"dup" ~email:(Some "ada@x") ~score:None) with
  | Error e -> Alcotest.(check bool) "constraint error" true (e.kind = `Constraint)
  | Ok _ -> Alcotest.fail "UNIQUE accepted twice");
  (* the statement that failed is usable again *)
  ignore (ok (Query.exec conn (add_user ~name:"dan" ~email:(Some "dan@x") ~score:None)));
  Conn.close conn;
  match Query.one conn count_users with
  | Error e -> Alcotest.(check bool) "closed connection" true (e.kind = `Closed)
  | Ok _ -> Alcotest.fail "ran on a closed connection"

(* A database whose schema is not the one the query was checked against:
   the row's mismatch is a Decode error naming the column, not a crash. *)
let test_drift () =
  let db = ok (Db.open_local ":memory:") in
  let conn = ok (Conn.connect db) in
  ok (Conn.batch conn "CREATE TABLE users (id INTEGER PRIMARY KEY, name BLOB, email, score, active);
                       INSERT INTO users VALUES (1, x'00', NULL, NULL, 1)");
  match Query.one conn (find_user ~id:1) with
  | Error e ->
    Alcotest.(check bool) ("Decode, naming the column: " ^ e.message) true
      (e.kind = `Decode && Str.string_match (Str.regexp ".*column 1 (name)") e.message 0)
  | Ok _ -> Alcotest.fail "decoded a blob as a string"

(* An exception from f passes through and leaves the connection usable. *)
let test_raise () =
  let _db, conn = fresh () in
  for i = 1 to 600 do ignore (ok (Query.exec conn (add_user ~name:(string_of_int i) ~email:None ~score:None))) done;
  (match Query.iter conn all_ids ~f:(fun i -> if i = 300 then failwith "stop") with
  | exception Failure _ -> ()
  | _ -> Alcotest.fail "the exception was lost");
  Alcotest.(check int) "still usable" 600 (List.length (ok (Query.list conn all_ids)))

(* Threads sharing a connection: each call gets its own statement, so a
   result set streamed by one is never invalidated by another. *)
let test_threads () =
  let _db, conn = fresh () in
  for i = 1 to 1000 do ignore (ok (Query.exec conn (add_user ~name:(string_of_int i) ~email:None ~score:None))) done;
  let sums = Array.make 4 0 in
  let threads =
    List.init 4 (fun k -> Thread.create (fun () -> for _ = 1 to 5 do sums.(k) <- sums.(k) + ok (Query.fold conn all_ids ~init:0 ~f:( + )) done) ())
  in
  List.iter Thread.join threads;
  Array.iter (fun s -> Alcotest.(check int) "every fold saw every row" (5 * 500500) s) sums

let test_lwt () =
  let open Lwt.Syntax in
  let okl p = Lwt.map ok p in
  Lwt_main.run
    (let* db = okl (Turso_lwt.Db.open_local ":memory:") in
     let* conn = okl (Turso_lwt.Conn.connect db) in
     (* the migrations [%%migrations] embedded: the directory's, as read *)
     let on_disk = ok (Migration.of_dir "migrations") in
     Alcotest.(check (list (pair string string))) "embedded migrations"
       (List.map (fun (m : Migration.t) -> (Migration.label m, m.checksum)) on_disk)
       (List.map (fun (m : Migration.t) -> (Migration.label m, m.checksum)) migrations);
     let* _ = okl (Turso_lwt.Migrate.run conn migrations) in
     let* () =
       Lwt_list.iter_s
         (fun i -> Lwt.map ignore (okl (Turso_lwt.Query.exec conn (add_user ~name:(string_of_int i) ~email:None ~score:None))))
         (List.init 700 (fun i -> i))
     in
     (* 16 streamed reads in flight on one connection, interleaving chunks,
        after one that left its statement in the connection's cache *)
     let* _ = okl (Turso_lwt.Query.list conn all_ids) in
     let* lists = Lwt_list.map_p (fun _ -> okl (Turso_lwt.Query.list conn all_ids)) (List.init 16 Fun.id) in
     List.iter (fun l -> Alcotest.(check int) "each list whole" 700 (List.length l)) lists;
     let* u = okl (Turso_lwt.Query.opt conn (find_user ~id:5)) in
     Alcotest.(check (option string)) "opt" (Some "4") (Option.map (fun (u : find_user) -> u.name) u);
     let* n = okl (Turso_lwt.Query.one conn count_users) in
     Alcotest.(check int) "count" 700 n;
     Lwt.return ())

let test_describe () =
  let _db, conn = fresh () in
  let s = ok (Conn.describe conn "SELECT id, name, score, score * 2 AS double FROM users WHERE id = :id AND name = ?") in
  Alcotest.(check (array (option string))) "parameters" [| Some ":id"; None |] s.parameters;
  Alcotest.(check bool) "read-only" true s.read_only;
  let c i = s.columns.(i) in
  Alcotest.(check (list (option string))) "declared types" [ Some "INTEGER"; Some "TEXT"; Some "REAL"; None ]
    (List.map (fun (c : Shape.column) -> c.decltype) (Array.to_list s.columns));
  Alcotest.(check (triple bool bool (option string))) "id" (false, true, Some "users") ((c 0).not_null, (c 0).primary_key, (c 0).table);
  Alcotest.(check bool) "name NOT NULL" true (c 1).not_null;
  Alcotest.(check (option string)) "expression: no origin" None (c 3).origin;
  Alcotest.(check bool) "a write" false (ok (Conn.describe conn "DELETE FROM users")).read_only;
  match Conn.describe conn "SELECT nope FROM users" with
  | Error e -> Alcotest.(check bool) "invalid: Sql error" true (e.kind = `Sql)
  | Ok _ -> Alcotest.fail "described an invalid statement"

let () =
  Alcotest.run "query"
    [ ( "checked queries",
        [ Alcotest.test_case "rows, one/opt/list/fold/iter/exec" `Quick test_rows;
          Alcotest.test_case "schema drift: Decode error" `Quick test_drift;
          Alcotest.test_case "exception in iter" `Quick test_raise;
          Alcotest.test_case "threads on one connection" `Quick test_threads;
          Alcotest.test_case "Lwt, 16 in flight" `Quick test_lwt;
          Alcotest.test_case "Conn.describe" `Quick test_describe ] ) ]
