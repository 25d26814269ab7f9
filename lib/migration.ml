(* Owns migrations as data: reading NNNN_name.sql files, their order and
   checksums. Applying them is Api's (Migrate), for both fibers. *)

type t = { version : int; name : string; sql : string; checksum : string }

let make ~version ~name sql = { version; name; sql; checksum = Digest.to_hex (Digest.string sql) }
let label m = Printf.sprintf "%04d_%s" m.version m.name
let config fmt = Printf.ksprintf (fun s -> Error (Error.make `Config s)) fmt

let sorted l =
  let l = List.stable_sort (fun a b -> compare a.version b.version) l in
  let rec check = function
    | a :: (b :: _ as rest) ->
      if a.version = b.version then config "two migrations with version %d: %s and %s" a.version (label a) (label b)
      else check rest
    | [ a ] when a.version < 0 -> config "migration %s: a version below 0" (label a)
    | _ -> Ok l
  in
  match l with a :: _ when a.version < 0 -> config "migration %s: a version below 0" (label a) | _ -> check l

(* "0002_add_email.sql" -> (2, "add_email") *)
let parse file =
  let base = Filename.chop_suffix file ".sql" in
  match String.index_opt base '_' with
  | Some i when i > 0 && i < String.length base - 1 && String.for_all (function '0' .. '9' -> true | _ -> false) (String.sub base 0 i)
    -> (
    match int_of_string_opt (String.sub base 0 i) with
    | Some v -> Some (v, String.sub base (i + 1) (String.length base - i - 1))
    | None -> None)
  | _ -> None

let read_file path =
  let ic = open_in_bin path in
  Fun.protect ~finally:(fun () -> close_in ic) (fun () -> really_input_string ic (in_channel_length ic))

let of_dir dir =
  match Sys.readdir dir with
  | exception Sys_error e -> config "migrations directory %s: %s" dir e
  | files ->
    let files = List.sort compare (List.filter (fun f -> Filename.check_suffix f ".sql") (Array.to_list files)) in
    let rec go acc = function
      | [] -> sorted (List.rev acc)
      | f :: rest -> (
        match parse f with
        | None -> config "migration file %s: the name must be NNNN_name.sql (a number, an underscore, a name)" (Filename.concat dir f)
        | Some (version, name) -> (
          match read_file (Filename.concat dir f) with
          | exception Sys_error e -> config "migration file %s: %s" (Filename.concat dir f) e
          | sql -> go (make ~version ~name sql :: acc) rest))
    in
    go [] files
