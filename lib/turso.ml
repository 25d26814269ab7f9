(* The library's front door: re-exports the concept modules and the
   blocking instance of the API (see turso.mli for the map), and keeps the
   old integration module's names (Compat). *)

module Value = Value
module Error = Error

let ok_exn = function Ok x -> x | Error e -> raise (Error.E e)

module Params = Params

type params = Params.t

module Row = Row
module Decode = Decode
module Encode = Encode
module Vector = Vector
module Trace = Trace
module Migration = Migration
module Shape = Shape
module Result_set = Result_set
module Config = Config
module Stats = Stats

module type S = Api_intf.S

include Blocking

(* The old integration module's names, over the blocking API above. *)
module Compat = struct
  type connection = { db : Db.t; conn : Conn.t }

  let current = ref None

  let get_connection ?env_file () =
    match !current with
    | Some c -> Ok c
    | None -> (
      match Db.of_env ?env_file () with
      | Error e -> Error e
      | Ok db -> (
        match Conn.connect db with
        | Error e -> Db.close db; Error e
        | Ok conn ->
          let c = { db; conn } in
          current := Some c;
          Ok c))

  let close_connection c =
    (match !current with Some c' when c' == c -> current := None | _ -> ());
    Conn.close c.conn;
    Db.close c.db

  let execute_sql_safe c ?params sql = Conn.query_list c.conn ?params sql
  let execute_sql_no_result c ?params sql = Result.map ignore (Conn.execute c.conn ?params sql)
  let execute_transaction c stmts = Conn.execute_transaction c.conn stmts
  let manual_sync c = Db.sync c.db
  let get_database_stats c = Db.stats c.db
  let string_of_db_error = Error.to_string

  let legacy_files = [ "working_copy.db"; "local_replica.db"; "diff.sql"; "turso-workflow.sh" ]

  let find_legacy_files ?(dir = Filename.current_dir_name) () =
    List.filter (fun f -> Sys.file_exists (Filename.concat dir f)) legacy_files

  let replica_configured ?(dir = Filename.current_dir_name) ?env_file () =
    let in_dir p = if Filename.is_relative p then Filename.concat dir p else p in
    match Config.of_env ?env_file () with
    | Ok (Config.Replica _) -> true
    | Ok (Config.Remote _) | Ok (Config.Local _) | Ok (Config.Synced _) -> false
    | Error _ ->
      let e = Config.env ?env_file () in
      let path = Option.value (Config.var e "TURSO_REPLICA_PATH") ~default:Config.default_replica_path in
      Sys.file_exists (in_dir path)

  let detect_workflow_mode ?dir ?env_file () =
    if replica_configured ?dir ?env_file () then "ffi"
    else if find_legacy_files ?dir () <> [] then "legacy"
    else "uninitialized"
end

module Private = struct
  module Ffi = Ffi
  module Wire = Wire
  module Sql = Sql

  module type IO = Api_intf.IO

  module Make = Api.Make

  let test_panic () = Reply.unit_of_reply (Ffi.test_panic ())
end
