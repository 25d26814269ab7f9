(* Runs the README's examples (test/readme_blocks.ml is extracted from
   README.md at build time; its first block already ran at start-up). *)

open Turso

let ok = ok_exn

let test_examples () =
  let db = ok (Db.open_local "readme.db") in
  let conn = ok (Conn.connect db) in
  (match ok (Readme_blocks.find_user conn ~name:"ada") with
   | Some r -> Alcotest.(check (option string)) "score" (Some "9.5") (Option.map Value.to_string (Row.find r "score"))
   | None -> Alcotest.fail "ada not found");
  Alcotest.(check int64) "insert_scores" 2L (ok (Readme_blocks.insert_scores conn [ ("bob", 1.); ("cy", 2.5) ]));
  Alcotest.(check (float 1e-9)) "total_score" 13. (ok (Readme_blocks.total_score conn));
  ok (Readme_blocks.transfer conn ~from:1L ~to_:2L 4.);
  Alcotest.(check (float 1e-9)) "total unchanged by a transfer" 13. (ok (Readme_blocks.total_score conn));
  (match ok (Conn.query_one conn "SELECT score FROM users WHERE id = 2") with
   | Some r -> Alcotest.(check string) "moved" "5.0" (Value.to_string (Row.get r 0))
   | None -> Alcotest.fail "no user 2");
  Readme_blocks.report conn;
  Conn.close conn;
  Db.close db

let () = Alcotest.run "README examples" [ ("readme", [ Alcotest.test_case "examples run" `Quick test_examples ]) ]
