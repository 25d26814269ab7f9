(* Owns the library's errors: their kinds, SQLite's result-code names, and
   the one-line rendering every message goes through (which never carries
   an auth token: the Rust side scrubs messages before they cross). *)

type kind = Wire.error_kind

type t = Wire.error = {
  kind : kind;
  code : int option;
  message : string;
  sql : string option;
}

exception E of t

let make ?code ?sql kind message = { kind; code; message; sql }

let kind_to_string : kind -> string = function
  | `Sql -> "sql" | `Constraint -> "constraint" | `Busy -> "busy" | `Auth -> "auth"
  | `Network -> "network" | `Timeout -> "timeout" | `Sync -> "sync"
  | `Closed -> "closed" | `Decode -> "decode" | `Config -> "config"
  | `Misuse -> "misuse" | `Internal -> "internal" | `Transaction_closed -> "transaction closed"

let primary_names =
  [ 0, "OK"; 1, "ERROR"; 2, "INTERNAL"; 3, "PERM"; 4, "ABORT"; 5, "BUSY";
    6, "LOCKED"; 7, "NOMEM"; 8, "READONLY"; 9, "INTERRUPT"; 10, "IOERR";
    11, "CORRUPT"; 12, "NOTFOUND"; 13, "FULL"; 14, "CANTOPEN"; 15, "PROTOCOL";
    16, "EMPTY"; 17, "SCHEMA"; 18, "TOOBIG"; 19, "CONSTRAINT"; 20, "MISMATCH";
    21, "MISUSE"; 22, "NOLFS"; 23, "AUTH"; 24, "FORMAT"; 25, "RANGE";
    26, "NOTADB"; 27, "NOTICE"; 28, "WARNING"; 100, "ROW"; 101, "DONE" ]

(* Extended codes: (primary, index) -> suffix; the code is primary lor
   (index lsl 8). *)
let extended_names =
  [ 1, [ 1, "MISSING_COLLSEQ"; 2, "RETRY"; 3, "SNAPSHOT" ];
    10,
    [ 1, "READ"; 2, "SHORT_READ"; 3, "WRITE"; 4, "FSYNC"; 5, "DIR_FSYNC";
      6, "TRUNCATE"; 7, "FSTAT"; 8, "UNLOCK"; 9, "RDLOCK"; 10, "DELETE";
      11, "BLOCKED"; 12, "NOMEM"; 13, "ACCESS"; 14, "CHECKRESERVEDLOCK";
      15, "LOCK"; 16, "CLOSE"; 17, "DIR_CLOSE"; 18, "SHMOPEN"; 19, "SHMSIZE";
      20, "SHMLOCK"; 21, "SHMMAP"; 22, "SEEK"; 23, "DELETE_NOENT"; 24, "MMAP";
      25, "GETTEMPPATH"; 26, "CONVPATH"; 27, "VNODE"; 28, "AUTH";
      29, "BEGIN_ATOMIC"; 30, "COMMIT_ATOMIC"; 31, "ROLLBACK_ATOMIC";
      32, "DATA"; 33, "CORRUPTFS" ];
    6, [ 1, "SHAREDCACHE"; 2, "VTAB" ];
    5, [ 1, "RECOVERY"; 2, "SNAPSHOT"; 3, "TIMEOUT" ];
    14, [ 1, "NOTEMPDIR"; 2, "ISDIR"; 3, "FULLPATH"; 4, "CONVPATH"; 6, "SYMLINK" ];
    11, [ 1, "VTAB"; 2, "SEQUENCE"; 3, "INDEX" ];
    8,
    [ 1, "RECOVERY"; 2, "CANTLOCK"; 3, "ROLLBACK"; 4, "DBMOVED"; 5, "CANTINIT";
      6, "DIRECTORY" ];
    4, [ 2, "ROLLBACK" ];
    19,
    [ 1, "CHECK"; 2, "COMMITHOOK"; 3, "FOREIGNKEY"; 4, "FUNCTION"; 5, "NOTNULL";
      6, "PRIMARYKEY"; 7, "TRIGGER"; 8, "UNIQUE"; 9, "VTAB"; 10, "ROWID";
      11, "PINNED"; 12, "DATATYPE" ];
    27, [ 1, "RECOVER_WAL"; 2, "RECOVER_ROLLBACK" ];
    28, [ 1, "AUTOINDEX" ];
    23, [ 1, "USER" ];
    0, [ 1, "LOAD_PERMANENTLY" ] ]

let primary_code e = Option.map (fun c -> c land 0xff) e.code

let code_name code =
  let primary = code land 0xff and ext = code lsr 8 in
  match List.assoc_opt primary primary_names with
  | None -> Printf.sprintf "SQLITE_UNKNOWN(%d)" code
  | Some p when ext = 0 -> "SQLITE_" ^ p
  | Some p -> (
    match Option.bind (List.assoc_opt primary extended_names) (List.assoc_opt ext) with
    | Some e -> Printf.sprintf "SQLITE_%s_%s" p e
    | None -> Printf.sprintf "SQLITE_%s(%d)" p code)

let is_transient e =
  match e.kind with `Busy | `Network | `Timeout -> true | _ -> false

(* Text for one line: every run of whitespace (newlines included) becomes
   one space, and text longer than [max] bytes is cut at a character
   boundary, with an ellipsis. *)
let one_line ?(max = max_int) s =
  let b = Buffer.create (min (String.length s) 256) in
  let space = ref false in
  String.iter
    (fun c ->
      match c with
      | ' ' | '\t' | '\n' | '\r' | '\011' | '\012' -> if Buffer.length b > 0 then space := true
      | c ->
        if !space then Buffer.add_char b ' ';
        space := false;
        Buffer.add_char b c)
    s;
  let s = Buffer.contents b in
  if String.length s <= max then s
  else
    (* back up to the first byte of a UTF-8 character *)
    let rec cut i = if i > 0 && Char.code s.[i] land 0xC0 = 0x80 then cut (i - 1) else i in
    String.sub s 0 (cut (max - 3)) ^ "..."

(* How much of a statement an error shows: enough to recognise it. *)
let sql_shown = 200

let to_string e =
  let b = Buffer.create 128 in
  Printf.bprintf b "%s error: %s" (kind_to_string e.kind) (one_line e.message);
  Option.iter (fun c -> Printf.bprintf b " (%s, code %d)" (code_name c) c) e.code;
  Option.iter (fun s -> Printf.bprintf b " in SQL: %s" (one_line ~max:sql_shown s)) e.sql;
  Buffer.contents b

let pp ppf e = Format.pp_print_string ppf (to_string e)

let () =
  Printexc.register_printer (function
    | E e -> Some ("Turso.Error.E: " ^ to_string e)
    | _ -> None)
