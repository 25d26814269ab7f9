(* A program outside the source tree, built against the installed package
   with ocamlfind: turso, turso.lwt and turso.ppx. *)

type item = { id : int64; name : string } [@@deriving turso]

let () =
  let open Turso in
  let db = ok_exn (Db.open_local ":memory:") in
  let c = ok_exn (Conn.connect db) in
  ok_exn (Conn.batch c "CREATE TABLE items (id INTEGER, name TEXT); INSERT INTO items VALUES (1, 'one')");
  let items = ok_exn (Conn.query_map c "SELECT id, name FROM items" ~f:item_of_row) in
  assert (items = [ { id = 1L; name = "one" } ]);
  Conn.close c;
  Db.close db;
  let n =
    Lwt_main.run
      (let open Lwt.Syntax in
       let* db = Turso_lwt.Db.open_local ":memory:" in
       let db = Turso_lwt.ok_exn db in
       let* c = Turso_lwt.Conn.connect db in
       let c = Turso_lwt.ok_exn c in
       let* r = Turso_lwt.Conn.query_one c "SELECT 40 + 2" in
       Lwt.return (Turso_lwt.ok_exn r))
  in
  match n with
  | Some row -> Printf.printf "installed turso works: %s %s\n" (Value.to_string (Row.get row 0)) (List.hd items).name
  | None -> exit 1
