module Value = struct
  type t = Wire.value =
    | Null
    | Integer of int64
    | Real of float
    | Text of string
    | Blob of string

  let int i = Integer (Int64.of_int i)
  let int64 i = Integer i
  let float f = Real f
  let text s = Text s
  let blob s = Blob s
  let bool b = Integer (if b then 1L else 0L)
  let option f = function None -> Null | Some x -> f x

  let type_name = function
    | Null -> "NULL"
    | Integer _ -> "INTEGER"
    | Real _ -> "REAL"
    | Text _ -> "TEXT"
    | Blob _ -> "BLOB"

  let equal a b =
    match (a, b) with
    | Real x, Real y -> Int64.equal (Int64.bits_of_float x) (Int64.bits_of_float y)
    | _ -> a = b

  (* The shortest decimal that reads back as the same float. *)
  let real_to_string f =
    if Float.is_integer f && Float.abs f < 1e15 then Printf.sprintf "%.1f" f
    else if Float.is_nan f then "NaN"
    else if f = Float.infinity then "Inf"
    else if f = Float.neg_infinity then "-Inf"
    else
      let rec go p =
        let s = Printf.sprintf "%.*g" p f in
        if p >= 17 || Float.equal (float_of_string s) f then s else go (p + 1)
      in
      go 15

  let pp ppf = function
    | Null -> Format.pp_print_string ppf "NULL"
    | Integer i -> Format.fprintf ppf "%Ld" i
    | Real f -> Format.pp_print_string ppf (real_to_string f)
    | Text s ->
      Format.fprintf ppf "'%s'"
        (String.concat "''" (String.split_on_char '\'' s))
    | Blob s ->
      Format.pp_print_string ppf "x'";
      String.iter (fun c -> Format.fprintf ppf "%02x" (Char.code c)) s;
      Format.pp_print_string ppf "'"

  let to_string v = Format.asprintf "%a" pp v
end

module Error = struct
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

  let to_string e =
    let b = Buffer.create 128 in
    Printf.bprintf b "%s error: %s" (kind_to_string e.kind) e.message;
    Option.iter (fun c -> Printf.bprintf b " (%s, code %d)" (code_name c) c) e.code;
    Option.iter (fun s -> Printf.bprintf b " in SQL: %s" s) e.sql;
    Buffer.contents b

  let pp ppf e = Format.pp_print_string ppf (to_string e)

  let () =
    Printexc.register_printer (function
      | E e -> Some ("Turso.Error.E: " ^ to_string e)
      | _ -> None)

end

let ok_exn = function Ok x -> x | Error e -> raise (Error.E e)

type params = [ `Positional of Value.t list | `Named of (string * Value.t) list ]

(* Replies *)

let err_of_reply r = Error (Wire.decode_error r)
let[@inline] unit_of_reply r = if Wire.is_ok r then Ok () else err_of_reply r
let[@inline] int64_of_reply r = if Wire.is_ok r then Ok (Wire.int64_at r 1) else err_of_reply r
let handle_of_result = function Ok h -> Ok h | Error r -> err_of_reply r

let encode_params = function
  | None -> ""
  | Some p -> Wire.encode_params (Some (p :> [ `Positional of _ | `Named of _ ]))

(* Rows per chunk when streaming; a chunk is also capped at 256 KiB. *)
let chunk_rows = 256

module Row = struct
  type t = { names : string array; values : Value.t array }

  let columns r = r.names
  let length r = Array.length r.values
  let get r i =
    if i < 0 || i >= Array.length r.values then invalid_arg "Turso.Row.get: column out of range";
    Array.unsafe_get r.values i

  let index r name =
    let rec go i =
      if i >= Array.length r.names then -1
      else if String.equal (Array.unsafe_get r.names i) name then i
      else go (i + 1)
    in
    go 0

  let find r name =
    match index r name with -1 -> None | i -> Some r.values.(i)

  let column r name =
    match index r name with
    | -1 ->
      Error
        (Error.make `Decode
           (Printf.sprintf "no column named %S (columns: %s)" name
              (String.concat ", " (Array.to_list r.names))))
    | i -> Ok r.values.(i)

  let values r = Array.copy r.values
  let to_list r = Array.to_list (Array.map2 (fun n v -> (n, v)) r.names r.values)

  let pp ppf r =
    Format.fprintf ppf "@[<hov 1>{";
    Array.iteri
      (fun i v ->
        if i > 0 then Format.fprintf ppf ";@ ";
        Format.fprintf ppf "%s = %a" r.names.(i) Value.pp v)
      r.values;
    Format.fprintf ppf "}@]"
end

module Decode = struct
  (* The fast path raises the constant [Mismatch] (no allocation, no
     message); the error path, taken once, builds the message with
     [explain]. *)
  exception Mismatch

  type 'a conv = { expected : string; read : Value.t -> 'a; explain : Value.t -> string }

  let found v =
    let s = Value.to_string v in
    let s = if String.length s > 40 then String.sub s 0 37 ^ "..." else s in
    match v with Value.Null -> "NULL" | _ -> Value.type_name v ^ " " ^ s

  let mismatch _ = raise_notrace Mismatch
  let conv expected read = { expected; read; explain = found }
  let int64 = conv "INTEGER" (function Value.Integer i -> i | v -> mismatch v)

  let int =
    conv "INTEGER (in the OCaml int range)" (function
      | Value.Integer i when Int64.equal (Int64.of_int (Int64.to_int i)) i -> Int64.to_int i
      | v -> mismatch v)

  let int32 =
    conv "INTEGER (in the int32 range)" (function
      | Value.Integer i when Int64.equal (Int64.of_int32 (Int64.to_int32 i)) i -> Int64.to_int32 i
      | v -> mismatch v)

  let float =
    conv "REAL" (function Value.Real f -> f | Value.Integer i -> Int64.to_float i | v -> mismatch v)

  let bool =
    conv "INTEGER 0 or 1" (function
      | Value.Integer 0L -> false
      | Value.Integer 1L -> true
      | v -> mismatch v)

  let string = conv "TEXT" (function Value.Text s -> s | v -> mismatch v)
  let bytes = conv "BLOB" (function Value.Blob s -> Bytes.of_string s | v -> mismatch v)
  let value = conv "any value" Fun.id

  let option c =
    { expected = c.expected ^ " or NULL";
      read = (function Value.Null -> None | v -> Some (c.read v));
      explain = c.explain }

  let custom ~expected f =
    { expected;
      read = (fun v -> match f v with Ok x -> x | Error _ | (exception _) -> raise_notrace Mismatch);
      explain =
        (fun v ->
          found v
          ^
          match f v with
          | Error msg -> ": " ^ msg
          | Ok _ -> ""
          | exception e -> ": exception " ^ Printexc.to_string e) }

  let error what msg = Error.make `Decode (what ^ msg)
  let mismatch_error what c v = error what (Printf.sprintf ": expected %s, found %s" c.expected (c.explain v))

  let check_at what c v = match c.read v with _ -> None | exception Mismatch -> Some (mismatch_error what c v)

  let nth row i c =
    if i < 0 || i >= Row.length row then
      Error (error (Printf.sprintf "column %d" i) (Printf.sprintf ": the row has %d column(s)" (Row.length row)))
    else
      let v = Array.unsafe_get row.Row.values i in
      match c.read v with
      | x -> Ok x
      | exception Mismatch ->
        Error (mismatch_error (Printf.sprintf "column %d (%s)" i (Row.columns row).(i)) c v)

  let missing_error name row =
    error (Printf.sprintf "missing column %S" name)
      (Printf.sprintf " (the row has: %s)" (String.concat ", " (Array.to_list (Row.columns row))))

  let get row name c =
    match Row.index row name with
    | -1 -> Error (missing_error name row)
    | i -> (
      let v = Array.unsafe_get row.Row.values i in
      match c.read v with x -> Ok x | exception Mismatch -> Error (mismatch_error (Printf.sprintf "column %S" name) c v))

  type check = Check : 'a conv -> check

  let check c = Check c

  (* A record's fields: names, converters, which have a default; and the
     column indexes, resolved once per result set (the rows of one result
     share their column-name array). *)
  type layout = {
    fields : string array;
    checks : check array;
    defaults : bool array;
    mutable cache : cache;
        (** replaced whole, so that a thread reading it sees a consistent pair *)
  }

  and cache = { names : string array; idx : int array }

  let layout fields checks defaults =
    (* a fresh array: no row's names can be physically equal to it *)
    { fields; checks; defaults; cache = { names = Array.make 1 ""; idx = [||] } }

  let resolve_slow l row =
    let idx = Array.map (fun f -> Row.index row f) l.fields in
    l.cache <- { names = row.Row.names; idx };
    idx

  let[@inline] resolve l row =
    let c = l.cache in
    if c.names == row.Row.names then c.idx else resolve_slow l row

  (* [idx] comes from [resolve] on this row: each index is -1 or valid. *)
  let[@inline] value_at row idx k =
    match Array.unsafe_get idx k with
    | -1 -> raise_notrace Mismatch
    | i -> Array.unsafe_get row.Row.values i

  let[@inline] present idx k = Array.unsafe_get idx k >= 0
  let[@inline] read c v = c.read v

  let[@inline] to_int i =
    let n = Int64.to_int i in
    if Int64.equal (Int64.of_int n) i then n else raise_notrace Mismatch

  let[@inline] to_int32 i =
    let n = Int64.to_int32 i in
    if Int64.equal (Int64.of_int32 n) i then n else raise_notrace Mismatch

  let first_error n check_one =
    let rec go k =
      if k >= n then Error.make `Internal "decoding failed, but no field explains why"
      else match check_one k with Some e -> e | None -> go (k + 1)
    in
    go 0

  let diagnose l row idx =
    first_error (Array.length l.fields) (fun k ->
        match idx.(k) with
        | -1 when l.defaults.(k) -> None
        | -1 -> Some (missing_error l.fields.(k) row)
        | i ->
          let (Check c) = l.checks.(k) in
          check_at (Printf.sprintf "column %S" l.fields.(k)) c row.Row.values.(i))

  let at row i c =
    if i >= Array.length row.Row.values then raise_notrace Mismatch
    else c.read (Array.unsafe_get row.Row.values i)

  let diagnose_at row checks =
    first_error (Array.length checks) (fun i ->
        if i >= Row.length row then
          Some (error (Printf.sprintf "column %d" i) (Printf.sprintf ": the row has %d column(s)" (Row.length row)))
        else
          let (Check c) = checks.(i) in
          check_at (Printf.sprintf "column %d (%s)" i (Row.columns row).(i)) c row.Row.values.(i))
end

module Encode = struct
  let int = Value.int
  let int32 i = Value.Integer (Int64.of_int32 i)
  let int64 = Value.int64
  let float = Value.float
  let bool = Value.bool
  let string = Value.text
  let bytes b = Value.Blob (Bytes.to_string b)
  let value v = v
  let option = Value.option
end

module Stats = struct
  type mode = [ `File | `Memory | `Remote | `Replica ]

  type t = {
    mode : mode;
    statements : int64;
    syncs : int;
    failed_syncs : int;
    frames_synced : int64;
    frame_no : int64 option;
    last_sync_at : float option;
    last_sync_duration : float option;
    last_sync_error : string option;
  }

  let mode_to_string = function
    | `File -> "file"
    | `Memory -> "memory"
    | `Remote -> "remote"
    | `Replica -> "replica"

  let decode r =
    let i64 off = Wire.int64_at r off in
    let opt off = let v = i64 off in if v < 0L then None else Some v in
    {
      mode = (match r.[1] with '\000' -> `File | '\001' -> `Memory | '\002' -> `Remote | _ -> `Replica);
      statements = i64 2;
      syncs = Int64.to_int (i64 10);
      failed_syncs = Int64.to_int (i64 18);
      frames_synced = i64 26;
      frame_no = opt 34;
      last_sync_at = Option.map (fun ms -> Int64.to_float ms /. 1000.) (opt 42);
      last_sync_duration = Option.map (fun us -> Int64.to_float us /. 1e6) (opt 50);
      last_sync_error =
        (if r.[58] = '\000' then None
         else Some (String.sub r 63 (Int32.to_int (String.get_int32_le r 59))));
    }

  let to_list s =
    let opt f = function None -> "-" | Some x -> f x in
    let time t =
      let tm = Unix.gmtime t in
      Printf.sprintf "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" (tm.tm_year + 1900) (tm.tm_mon + 1) tm.tm_mday
        tm.tm_hour tm.tm_min tm.tm_sec (int_of_float (Float.rem t 1. *. 1000.))
    in
    [ ("mode", mode_to_string s.mode); ("statements", Int64.to_string s.statements);
      ("syncs", string_of_int s.syncs); ("failed_syncs", string_of_int s.failed_syncs);
      ("frames_synced", Int64.to_string s.frames_synced); ("frame_no", opt Int64.to_string s.frame_no);
      ("last_sync_at", opt time s.last_sync_at);
      ("last_sync_duration", opt (Printf.sprintf "%.3fs") s.last_sync_duration);
      ("last_sync_error", opt Fun.id s.last_sync_error) ]

  let pp ppf s =
    Format.fprintf ppf "@[<v>%a@]"
      (Format.pp_print_list (fun ppf (k, v) -> Format.fprintf ppf "%-19s %s" k v))
      (to_list s)
end

module Result_set = struct
  type t = {
    columns : string array;
    decltypes : string option array;
    rows : Row.t list;
    rows_affected : int64;
    last_insert_rowid : int64 option;
  }

  let of_wire (r : Wire.result) =
    {
      columns = r.r_names;
      decltypes = r.r_decltypes;
      rows = List.map (fun values -> { Row.names = r.r_names; values }) r.r_rows;
      rows_affected = r.r_changes;
      last_insert_rowid = r.r_rowid;
    }
end

(* Whether a statement only reads: what a batch in `Read mode accepts, the
   same in every mode (sqld does not enforce read-only transactions). *)
let is_read_statement sql =
  let n = String.length sql in
  let words = ref [] in
  let i = ref 0 in
  let quote = ref None in
  while !i < n do
    let c = sql.[!i] in
    (match !quote with
     | Some q -> if c = q then quote := None
     | None ->
       if c = '\'' || c = '"' || c = '`' then quote := Some c
       else if c = '[' then quote := Some ']'
       else if c = '-' && !i + 1 < n && sql.[!i + 1] = '-' then
         (while !i < n && sql.[!i] <> '\n' do incr i done)
       else if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c = '_' then begin
         let start = !i in
         while !i + 1 < n && (match sql.[!i + 1] with 'A' .. 'Z' | 'a' .. 'z' | '0' .. '9' | '_' -> true | _ -> false) do incr i done;
         words := String.uppercase_ascii (String.sub sql start (!i - start + 1)) :: !words
       end);
    incr i
  done;
  let words = List.rev !words in
  match words with
  | ("SELECT" | "VALUES" | "WITH") :: _ ->
    not (List.exists (fun w -> List.mem w [ "INSERT"; "UPDATE"; "DELETE"; "REPLACE" ]) words)
  | _ -> false

(* .env files: KEY=VALUE lines; blank lines and # comments; an optional
   export prefix; values bare (a space then # starts a comment), in single
   quotes (as is) or in double quotes (with backslash escapes for newline,
   tab, carriage return, double quote and backslash). *)
module Dotenv = struct
  let unquote_double s =
    let b = Buffer.create (String.length s) in
    let n = String.length s in
    let rec go i =
      if i < n then
        if s.[i] = '\\' && i + 1 < n then begin
          (match s.[i + 1] with
           | 'n' -> Buffer.add_char b '\n'
           | 't' -> Buffer.add_char b '\t'
           | 'r' -> Buffer.add_char b '\r'
           | c -> Buffer.add_char b c);
          go (i + 2)
        end
        else (Buffer.add_char b s.[i]; go (i + 1))
    in
    go 0;
    Buffer.contents b

  let value raw =
    let v = String.trim raw in
    let n = String.length v in
    let closing q = match String.index_from_opt v 1 q with Some j -> Some (String.sub v 1 (j - 1)) | None -> None in
    (* the closing double quote is the first one not escaped *)
    let rec closing_double i =
      if i >= n then None
      else if v.[i] = '\\' then closing_double (i + 2)
      else if v.[i] = '"' then Some (String.sub v 1 (i - 1))
      else closing_double (i + 1)
    in
    if n >= 1 && v.[0] = '"' then Option.map unquote_double (closing_double 1)
    else if n >= 1 && v.[0] = '\'' then closing '\''
    else
      let rec cut i =
        if i >= n then v
        else if v.[i] = '#' && i > 0 && (v.[i - 1] = ' ' || v.[i - 1] = '\t') then String.trim (String.sub v 0 i)
        else cut (i + 1)
      in
      Some (if n > 0 && v.[0] = '#' then "" else cut 0)

  let parse text =
    List.filter_map
      (fun line ->
        let line = String.trim line in
        if line = "" || line.[0] = '#' then None
        else
          let line =
            if String.length line > 7 && String.sub line 0 7 = "export " then String.trim (String.sub line 7 (String.length line - 7))
            else line
          in
          match String.index_opt line '=' with
          | None -> None
          | Some i ->
            let key = String.trim (String.sub line 0 i) in
            Option.map (fun v -> (key, v)) (value (String.sub line (i + 1) (String.length line - i - 1))))
      (String.split_on_char '\n' text)

  let read_file path =
    match open_in_bin path with
    | exception Sys_error _ -> None
    | ic ->
      Fun.protect ~finally:(fun () -> close_in ic) (fun () -> Some (parse (really_input_string ic (in_channel_length ic))))
end

module Config = struct
  type t =
    | Local of string
    | Remote of { url : string; auth_token : string }
    | Replica of { path : string; url : string; auth_token : string }

  let default_replica_path = "turso-replica.db"

  let starts_with ~prefix s =
    String.length s >= String.length prefix && String.sub s 0 (String.length prefix) = prefix

  (* The scheme of "scheme://...", if the text has one. *)
  let scheme url =
    match String.index_opt url ':' with
    | Some i
      when i > 0 && String.length url >= i + 3 && String.sub url i 3 = "://"
           && String.for_all (function 'a' .. 'z' | 'A' .. 'Z' | '0' .. '9' | '+' | '-' | '.' -> true | _ -> false) (String.sub url 0 i) ->
      Some (String.lowercase_ascii (String.sub url 0 i))
    | _ -> None

  let is_remote_url url = match scheme url with Some ("libsql" | "https" | "http" | "wss" | "ws") -> true | _ -> false

  (* A URL for people: the query's authToken is not shown. *)
  let redact_url url =
    match String.index_opt url '?' with
    | None -> url
    | Some q ->
      let params = String.split_on_char '&' (String.sub url (q + 1) (String.length url - q - 1)) in
      let params = List.map (fun kv -> if starts_with ~prefix:"authToken=" kv then "authToken=<redacted>" else kv) params in
      String.sub url 0 q ^ "?" ^ String.concat "&" params

  type env = { file : (string * string) list; env_file : string }

  let env ?(env_file = ".env") () = { file = Option.value (Dotenv.read_file env_file) ~default:[]; env_file }

  (* a variable of the real environment wins; an empty one is unset *)
  let var e name =
    match Sys.getenv_opt name with
    | Some v when v <> "" -> Some v
    | _ -> ( match List.assoc_opt name (List.rev e.file) with Some v when v <> "" -> Some v | _ -> None)

  (* TURSO_REPLICA_PATH=none means: no replica, the remote database itself *)
  let no_replica e = var e "TURSO_REPLICA_PATH" = Some "none"

  let of_env ?env_file () =
    let e = env ?env_file () in
    match var e "TURSO_DATABASE_URL" with
    | None ->
      Error
        (Error.make `Config
           (Printf.sprintf
              "TURSO_DATABASE_URL is not set (in the environment or in %s): set it to a libsql://, https://, http:// or file: URL"
              e.env_file))
    | Some url when not (is_remote_url url) -> (
      match scheme url with
      | None | Some "file" -> Ok (Local url)
      | Some other ->
        Error
          (Error.make `Config
             (Printf.sprintf
                "TURSO_DATABASE_URL: unsupported URL scheme %S (use libsql://, https://, http://, wss://, ws://, a file: URI or a path)"
                other)))
    | Some url ->
      let auth_token = Option.value (var e "TURSO_AUTH_TOKEN") ~default:"" in
      if no_replica e then Ok (Remote { url; auth_token })
      else
        let path = Option.value (var e "TURSO_REPLICA_PATH") ~default:default_replica_path in
        Ok (Replica { path; url; auth_token })

  let token_note t = if t = "" then "not set" else Printf.sprintf "set (%d characters)" (String.length t)

  let to_string = function
    | Local path -> Printf.sprintf "local file %s" path
    | Remote { url; auth_token } -> Printf.sprintf "remote %s, auth token %s" (redact_url url) (token_note auth_token)
    | Replica { path; url; auth_token } ->
      Printf.sprintf "embedded replica %s of %s, auth token %s" path (redact_url url) (token_note auth_token)

  let pp ppf t = Format.pp_print_string ppf (to_string t)
end

(* ----------------------------------------------------------------------
   The operations, written once over the fiber: [Direct] (the blocking API,
   below) and Lwt (turso.lwt). An operation is a call into the stub in its
   two forms: [sync] runs it now; [async id] queues it, and its reply comes
   back later under [id]. *)

module type IO = sig
  type 'a t

  val return : 'a -> 'a t
  val bind : 'a t -> ('a -> 'b t) -> 'b t

  val on_exn : (unit -> 'a t) -> (unit -> unit t) -> 'a t
  (** [on_exn f cleanup] runs [f ()]; if it raises (or fails), runs
      [cleanup ()] and raises the same exception again. *)

  val call : (unit -> string) -> (int -> unit) -> string t
  val sleep : float -> unit t

  val call_handle :
    (unit -> ('h, string) result) -> (int -> unit) -> (int -> ('h, string) result) ->
    ('h, string) result t
  (** [call_handle sync async take]: [take id] gets the handle once the
      reply to [async id] is OK. *)
end

(* The interface, documented in turso.mli. *)
module type S = sig
  type 'a io
  module Rows : sig
    type t
    val columns : t -> string array
    val decltypes : t -> string option array
    val next : t -> (Row.t option, Error.t) result io
    val iter : t -> f:(Row.t -> unit) -> (unit, Error.t) result io
    val fold : t -> init:'a -> f:('a -> Row.t -> 'a) -> ('a, Error.t) result io
    val to_list : t -> (Row.t list, Error.t) result io
    val close : t -> unit io
  end
  module Db : sig
    type t
    type open_mode =
      [ `Read_write_create  
      | `Read_write  
      | `Read_only   ]
    val open_local : ?mode:open_mode -> string -> (t, Error.t) result io
    val open_remote :
      ?timeout:float -> url:string -> auth_token:string -> unit -> (t, Error.t) result io
    val open_replica :
      ?sync_interval:float -> ?read_your_writes:bool -> ?timeout:float -> ?sync_timeout:float ->
      path:string -> url:string -> auth_token:string -> unit -> (t, Error.t) result io
    type sync_info = { frame_no : int64 option; frames_synced : int }
    val sync : t -> (sync_info, Error.t) result io
    val stats : t -> (Stats.t, Error.t) result io
    val close : t -> unit io
    val open_config : ?timeout:float -> Config.t -> (t, Error.t) result io
    val of_env : ?env_file:string -> unit -> (t, Error.t) result io
  end
  module Stmt : sig
    type t
    val execute : ?params:params -> t -> (int64, Error.t) result io
    val execute_many : t -> Value.t list list -> (int64, Error.t) result io
    val query : ?params:params -> t -> (Rows.t, Error.t) result io
    val query_one : ?params:params -> t -> (Row.t option, Error.t) result io
    val parameter_count : t -> (int, Error.t) result io
    val reset : t -> (unit, Error.t) result io
    val close : t -> unit io
  end
  module Conn : sig
    type t
    val connect : ?busy_timeout:float -> Db.t -> (t, Error.t) result io
    val execute : ?params:params -> t -> string -> (int64, Error.t) result io
    val query : ?params:params -> t -> string -> (Rows.t, Error.t) result io
    val query_list : ?params:params -> t -> string -> (Row.t list, Error.t) result io
    val query_one : ?params:params -> t -> string -> (Row.t option, Error.t) result io
    val fold :
      ?params:params -> t -> string -> init:'a -> f:('a -> Row.t -> 'a) ->
      ('a, Error.t) result io
    val iter : ?params:params -> t -> string -> f:(Row.t -> unit) -> (unit, Error.t) result io
    val query_map :
      ?params:params -> t -> string -> f:(Row.t -> ('a, Error.t) result) -> ('a list, Error.t) result io
    val prepare : t -> string -> (Stmt.t, Error.t) result io
    val batch : t -> string -> (unit, Error.t) result io
    val script : t -> string -> (unit, Error.t) result io
    type behavior = [ `Deferred | `Immediate | `Exclusive ]
    val with_transaction :
      ?behavior:behavior -> t -> (t -> ('a, Error.t) result io) -> ('a, Error.t) result io
    val execute_transaction : t -> string list -> (unit, Error.t) result io
    val last_insert_rowid : t -> (int64, Error.t) result io
    val changes : t -> (int64, Error.t) result io
    val is_autocommit : t -> (bool, Error.t) result io
    val set_busy_timeout : t -> float -> (unit, Error.t) result io
    val close : t -> unit io
    val run : ?params:params -> t -> string -> (Result_set.t, Error.t) result io
    type batch_mode = [ `Write | `Read | `Deferred ]
    val batch_list :
      ?mode:batch_mode -> t -> (string * params) list -> (Result_set.t list, Error.t) result io
  end
  module Tx : sig
    type t
    val begin_ : ?behavior:Conn.behavior -> Conn.t -> (t, Error.t) result io
    val execute : ?params:params -> t -> string -> (int64, Error.t) result io
    val query : ?params:params -> t -> string -> (Row.t list, Error.t) result io
    val run : ?params:params -> t -> string -> (Result_set.t, Error.t) result io
    val batch : t -> (string * params) list -> (Result_set.t list, Error.t) result io
    val script : t -> string -> (unit, Error.t) result io
    val commit : t -> (unit, Error.t) result io
    val rollback : t -> (unit, Error.t) result io
    val close : t -> unit io
    val is_open : t -> bool
  end
  val retry :
    ?attempts:int -> ?base_delay:float -> ?max_delay:float ->
    ?on_retry:(attempt:int -> delay:float -> Error.t -> unit) ->
    (unit -> ('a, Error.t) result io) -> ('a, Error.t) result io
end

module Make (Io : IO) : S with type 'a io = 'a Io.t = struct
  type 'a io = 'a Io.t

  let ( >>= ) = Io.bind
  let ( >|= ) x f = Io.bind x (fun v -> Io.return (f v))

  let call_unit sync async = Io.call sync async >|= unit_of_reply
  let call_int64 sync async = Io.call sync async >|= int64_of_reply
  let call_handle sync async take = Io.call_handle sync async take >|= handle_of_result

  module Rows = struct
    type state = Open | Exhausted | Closed

    type t = {
      stmt : Ffi.stmt;
      oneshot : bool;  (** the statement belongs to this result set *)
      cur : Wire.cursor;
      mutable state : state;
    }

    let columns r = r.cur.names
    let decltypes r = r.cur.decltypes
    let close_stmt s = Io.call (fun () -> Ffi.stmt_close s) (Ffi.stmt_close_async s) >|= ignore

    let release r =
      if r.oneshot then close_stmt r.stmt
      else if r.state = Open then
        Io.call
          (fun () -> Ffi.stmt_reset r.stmt r.cur.generation)
          (Ffi.stmt_reset_async r.stmt r.cur.generation)
        >|= ignore
      else Io.return ()

    let close r =
      if r.state = Closed then Io.return ()
      else begin
        let release = release r in
        r.cur.remaining <- 0;
        r.state <- Closed;
        release
      end

    let finish r =
      r.state <- Exhausted;
      if r.oneshot then close_stmt r.stmt else Io.return ()

    let rec next r =
      let c = r.cur in
      if c.remaining > 0 then Io.return (Ok (Some { Row.names = c.names; values = Wire.decode_row c }))
      else
        match r.state with
        | Exhausted -> Io.return (Ok None)
        | Closed -> Io.return (Error (Error.make `Closed "result set is closed"))
        | Open ->
          if c.done_ then finish r >|= fun () -> Ok None
          else
            Io.call
              (fun () -> Ffi.stmt_fetch r.stmt c.generation chunk_rows)
              (Ffi.stmt_fetch_async r.stmt c.generation chunk_rows)
            >>= fun reply ->
            if Wire.is_ok reply then (Wire.next_chunk c reply; next r)
            else finish r >|= fun () -> err_of_reply reply

    let fold r ~init ~f =
      let rec go acc =
        next r >>= function
        | Ok (Some row) -> go (f acc row)
        | Ok None -> Io.return (Ok acc)
        | Error e -> Io.return (Error e)
      in
      Io.on_exn (fun () -> go init) (fun () -> close r)

    let iter r ~f = fold r ~init:() ~f:(fun () row -> f row)
    let to_list r = fold r ~init:[] ~f:(fun acc row -> row :: acc) >|= Result.map List.rev

    let start ~oneshot ?header stmt reply =
      if Wire.is_ok reply then begin
        let cur, header = Wire.decode_query reply header in
        let r = { stmt; oneshot; cur; state = Open } in
        if cur.done_ then begin
          (* the whole result came in the first chunk: release it now *)
          r.state <- Exhausted;
          (if oneshot then close_stmt stmt else Io.return ()) >|= fun () -> Ok (r, header)
        end
        else Io.return (Ok (r, header))
      end
      else (if oneshot then close_stmt stmt else Io.return ()) >|= fun () -> err_of_reply reply
  end

  module Db = struct
    type t = Ffi.db
    type open_mode = [ `Read_write_create | `Read_write | `Read_only ]

    let open_local ?(mode = `Read_write_create) path =
      let flags = match mode with `Read_write_create -> 0 | `Read_write -> 1 | `Read_only -> 2 in
      call_handle
        (fun () -> Ffi.db_open_local path flags)
        (Ffi.db_open_local_async path flags)
        Ffi.take_db

    let open_remote ?(timeout = 10.) ~url ~auth_token () =
      let ms = int_of_float (Float.round (Float.max 0.001 timeout *. 1000.)) in
      call_handle
        (fun () -> Ffi.db_open_remote url auth_token ms)
        (Ffi.db_open_remote_async url auth_token ms)
        Ffi.take_db

    let open_replica ?(sync_interval = 0.) ?(read_your_writes = true) ?(timeout = 10.) ?(sync_timeout = 120.)
        ~path ~url ~auth_token () =
      let ms s = Int64.of_float (Float.round (Float.max 0. s *. 1000.)) in
      let b = Bytes.create 25 in
      Bytes.set_int64_le b 0 (ms sync_interval);
      Bytes.set_int64_le b 8 (Int64.max 1L (ms timeout));
      Bytes.set b 16 (if read_your_writes then '\001' else '\000');
      Bytes.set_int64_le b 17 (Int64.max 1L (ms sync_timeout));
      let opts = Bytes.unsafe_to_string b in
      call_handle
        (fun () -> Ffi.db_open_replica path url auth_token opts)
        (Ffi.db_open_replica_async path url auth_token opts)
        Ffi.take_db

    type sync_info = { frame_no : int64 option; frames_synced : int }

    let sync db =
      Io.call (fun () -> Ffi.db_sync db) (Ffi.db_sync_async db) >|= fun r ->
      if Wire.is_ok r then
        let f = Wire.int64_at r 1 in
        Ok { frame_no = (if f < 0L then None else Some f); frames_synced = Int64.to_int (Wire.int64_at r 9) }
      else err_of_reply r

    let stats db =
      Io.call (fun () -> Ffi.db_stats db) (Ffi.db_stats_async db) >|= fun r ->
      if Wire.is_ok r then Ok (Stats.decode r) else err_of_reply r

    let close db = Io.call (fun () -> Ffi.db_close db) (Ffi.db_close_async db) >|= ignore

    let open_config ?timeout = function
      | Config.Local path -> open_local path
      | Config.Remote { url; auth_token } -> open_remote ?timeout ~url ~auth_token ()
      | Config.Replica { path; url; auth_token } -> open_replica ?timeout ~path ~url ~auth_token ()

    let of_env ?env_file () =
      match Config.of_env ?env_file () with
      | Error e -> Io.return (Error e)
      | Ok c -> open_config c
  end

  module Stmt = struct
    (* The column header is cached here after the first query; the stub
       sends it again only if SQLite re-prepared the statement. *)
    type t = { h : Ffi.stmt; mutable header : Wire.header option }

    let execute ?params s =
      let p = encode_params params in
      call_int64 (fun () -> Ffi.stmt_execute s.h p) (Ffi.stmt_execute_async s.h p)

    let execute_many s sets =
      let p = Wire.encode_param_sets sets in
      call_int64 (fun () -> Ffi.stmt_execute_many s.h p) (Ffi.stmt_execute_many_async s.h p)

    let run_query s params max_rows =
      let header = s.header in
      let p = encode_params params and want = header = None in
      Io.call
        (fun () -> Ffi.stmt_query s.h p max_rows want)
        (Ffi.stmt_query_async s.h p max_rows want)

    let query ?params s =
      run_query s params chunk_rows >>= fun reply ->
      Rows.start ~oneshot:false ?header:s.header s.h reply >|= function
      | Ok (r, h) -> s.header <- Some h; Ok r
      | Error e -> Error e

    let query_one ?params s =
      let header = s.header in
      run_query s params 0 >|= fun reply ->
      if Wire.is_ok reply then begin
        let cur, h = Wire.decode_query reply header in
        s.header <- Some h;
        if cur.remaining > 0 then Ok (Some { Row.names = cur.names; values = Wire.decode_row cur })
        else Ok None
      end
      else err_of_reply reply

    let parameter_count s =
      call_int64 (fun () -> Ffi.stmt_parameter_count s.h) (Ffi.stmt_parameter_count_async s.h)
      >|= Result.map Int64.to_int

    let reset s = call_unit (fun () -> Ffi.stmt_reset s.h (-1)) (Ffi.stmt_reset_async s.h (-1))
    let close s = Rows.close_stmt s.h
  end

  module Conn = struct
    type t = { h : Ffi.conn; mutable savepoints : int }
    type behavior = [ `Deferred | `Immediate | `Exclusive ]

    let ms_of_seconds s = int_of_float (Float.round (Float.max 0. s *. 1000.))

    let connect ?(busy_timeout = 5.0) db =
      let ms = ms_of_seconds busy_timeout in
      call_handle (fun () -> Ffi.db_connect db ms) (Ffi.db_connect_async db ms) Ffi.take_conn
      >|= Result.map (fun h -> { h; savepoints = 0 })

    let execute ?params c sql =
      let p = encode_params params in
      call_int64 (fun () -> Ffi.conn_execute c.h sql p) (Ffi.conn_execute_async c.h sql p)

    let prepare_raw c sql =
      call_handle (fun () -> Ffi.conn_prepare c.h sql) (Ffi.conn_prepare_async c.h sql) Ffi.take_stmt

    let prepare c sql = prepare_raw c sql >|= Result.map (fun h -> { Stmt.h; header = None })

    let query ?params c sql =
      prepare_raw c sql >>= function
      | Error e -> Io.return (Error e)
      | Ok s ->
        let p = encode_params params in
        Io.call
          (fun () -> Ffi.stmt_query s p chunk_rows true)
          (Ffi.stmt_query_async s p chunk_rows true)
        >>= fun reply -> Rows.start ~oneshot:true s reply >|= Result.map fst

    let fold ?params c sql ~init ~f =
      query ?params c sql >>= function Error e -> Io.return (Error e) | Ok r -> Rows.fold r ~init ~f

    let iter ?params c sql ~f = fold ?params c sql ~init:() ~f:(fun () row -> f row)

    let query_list ?params c sql =
      query ?params c sql >>= function Error e -> Io.return (Error e) | Ok r -> Rows.to_list r

    let query_map ?params c sql ~f =
      query ?params c sql >>= function
      | Error e -> Io.return (Error e)
      | Ok r ->
        let rec go acc =
          Rows.next r >>= function
          | Ok (Some row) -> (
            match f row with
            | Ok x -> go (x :: acc)
            | Error e -> Rows.close r >|= fun () -> Error e)
          | Ok None -> Io.return (Ok (List.rev acc))
          | Error e -> Io.return (Error e)
        in
        Io.on_exn (fun () -> go []) (fun () -> Rows.close r)

    let query_one ?params c sql =
      prepare_raw c sql >>= function
      | Error e -> Io.return (Error e)
      | Ok h ->
        Stmt.query_one ?params { Stmt.h; header = None } >>= fun r ->
        Rows.close_stmt h >|= fun () -> r

    let batch c sql = call_unit (fun () -> Ffi.conn_batch c.h sql true) (Ffi.conn_batch_async c.h sql true)
    let script c sql = call_unit (fun () -> Ffi.conn_batch c.h sql false) (Ffi.conn_batch_async c.h sql false)

    let last_insert_rowid c =
      call_int64 (fun () -> Ffi.conn_last_insert_rowid c.h) (Ffi.conn_last_insert_rowid_async c.h)

    let changes c = call_int64 (fun () -> Ffi.conn_changes c.h) (Ffi.conn_changes_async c.h)

    let is_autocommit c =
      call_int64 (fun () -> Ffi.conn_is_autocommit c.h) (Ffi.conn_is_autocommit_async c.h)
      >|= Result.map (fun i -> i <> 0L)

    let set_busy_timeout c s =
      let ms = ms_of_seconds s in
      call_unit (fun () -> Ffi.conn_set_busy_timeout c.h ms) (Ffi.conn_set_busy_timeout_async c.h ms)

    let exec_ c sql = execute c sql >|= Result.map ignore

    let with_transaction ?(behavior = `Deferred) c f =
      is_autocommit c >>= function
      | Error e -> Io.return (Error e)
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
          let rec go = function [] -> Io.return () | q :: r -> exec_ c q >>= fun _ -> go r in
          go rollback_sqls >|= leave
        in
        exec_ c begin_sql >>= function
        | Error e -> Io.return (Error e)
        | Ok () -> (
          if not autocommit then c.savepoints <- c.savepoints + 1;
          Io.on_exn (fun () -> f c) rollback >>= function
          | Error e -> rollback () >|= fun () -> Error e
          | Ok v -> (
            exec_ c commit_sql >>= function
            | Ok () -> leave (); Io.return (Ok v)
            | Error e -> rollback () >|= fun () -> Error e))

    let run ?params c sql =
      let p = encode_params params in
      Io.call (fun () -> Ffi.conn_run c.h sql p) (Ffi.conn_run_async c.h sql p) >|= fun r ->
      if Wire.is_ok r then Ok (Result_set.of_wire (Wire.decode_run r)) else err_of_reply r

    type batch_mode = [ `Write | `Read | `Deferred ]

    let batch_list ?(mode = `Deferred) c stmts =
      let not_read =
        if mode <> `Read then None
        else
          List.find_map
            (fun (i, (sql, _)) -> if is_read_statement sql then None else Some (i, sql))
            (List.mapi (fun i s -> (i, s)) stmts)
      in
      match not_read with
      | Some (i, sql) ->
        Io.return
          (Error
             (Error.make ~sql `Misuse
                (Printf.sprintf "statement %d: a batch in `Read mode runs only SELECT, VALUES or WITH ... SELECT statements" i)))
      | None ->
        let m = match mode with `Deferred -> 0 | `Write -> 1 | `Read -> 2 in
        let req = Wire.encode_batch m (List.map (fun (sql, p) -> (sql, Some p)) stmts) in
        Io.call (fun () -> Ffi.conn_batch_list c.h req) (Ffi.conn_batch_list_async c.h req) >|= fun r ->
        if Wire.is_ok r then Ok (List.map Result_set.of_wire (Wire.decode_batch r)) else err_of_reply r

    let execute_transaction c stmts =
      with_transaction ~behavior:`Immediate c (fun c ->
          let rec go = function
            | [] -> Io.return (Ok ())
            | sql :: rest -> (
              execute c sql >>= function Ok _ -> go rest | Error e -> Io.return (Error e))
          in
          go stmts)

    let close c = Io.call (fun () -> Ffi.conn_close c.h) (Ffi.conn_close_async c.h) >|= ignore
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
      | Error e -> Io.return (Error e)
      | Ok false ->
        Io.return
          (Error (Error.make `Misuse "a transaction is already open on this connection (use Conn.with_transaction to nest)"))
      | Ok true ->
        let sql =
          match behavior with `Deferred -> "BEGIN DEFERRED" | `Immediate -> "BEGIN IMMEDIATE" | `Exclusive -> "BEGIN EXCLUSIVE"
        in
        Conn.execute conn sql >|= Result.map (fun _ -> { conn; state = Open })

    (* Runs [f] if the transaction is open; afterwards, a connection back in
       autocommit mode means a statement ended the transaction. *)
    let guard t f =
      if t.state <> Open then Io.return (Error (closed_error t))
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
      if t.state <> Open then Io.return (Error (closed_error t))
      else
        Conn.execute t.conn sql >>= function
        | Ok _ -> t.state <- final; Io.return (Ok ())
        | Error e ->
          (* a failed COMMIT: roll back, so the connection is usable *)
          Conn.is_autocommit t.conn >>= fun a ->
          (match a with
           | Ok false -> Conn.execute t.conn "ROLLBACK" >|= ignore
           | _ -> Io.return ())
          >|= fun () ->
          t.state <- Rolled_back;
          Error e

    let commit t = finish t "COMMIT" Committed
    let rollback t = finish t "ROLLBACK" Rolled_back

    let close t =
      if t.state <> Open then Io.return ()
      else rollback t >|= fun _ -> t.state <- Closed
  end

  (* Jitter from a state of our own: the application's Random is left alone. *)
  let jitter = lazy (Random.State.make_self_init ())

  let retry ?(attempts = 4) ?(base_delay = 0.1) ?(max_delay = 2.) ?on_retry f =
    let rec go attempt =
      f () >>= function
      | Error e when Error.is_transient e && attempt < attempts ->
        let d = Float.min max_delay (base_delay *. (2. ** float_of_int (attempt - 1))) in
        (* "equal jitter": half the delay, plus up to the other half at random *)
        let delay = (d /. 2.) +. Random.State.float (Lazy.force jitter) (d /. 2.) in
        Option.iter (fun f -> f ~attempt ~delay e) on_retry;
        Io.sleep delay >>= fun () -> go (attempt + 1)
      | r -> Io.return r
    in
    go 1
end

module Direct = struct
  type 'a t = 'a

  let return x = x
  let bind x f = f x

  let on_exn f cleanup =
    match f () with
    | v -> v
    | exception exn ->
      let bt = Printexc.get_raw_backtrace () in
      cleanup ();
      Printexc.raise_with_backtrace exn bt

  let call sync _ = sync ()
  let call_handle sync _ _ = sync ()
  let sleep = Unix.sleepf
end

include Make (Direct)

module Syntax = struct
  let ( let* ) = Result.bind
  let ( let+ ) r f = Result.map f r
end

module Private = struct
  module Ffi = Ffi
  module Wire = Wire

  module type IO = IO

  module Make = Make

  let test_panic () = unit_of_reply (Ffi.test_panic ())
end

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
    | Ok (Config.Remote _) | Ok (Config.Local _) -> false
    | Error _ ->
      let e = Config.env ?env_file () in
      let path = Option.value (Config.var e "TURSO_REPLICA_PATH") ~default:Config.default_replica_path in
      Sys.file_exists (in_dir path)

  let detect_workflow_mode ?dir ?env_file () =
    if replica_configured ?dir ?env_file () then "ffi"
    else if find_legacy_files ?dir () <> [] then "legacy"
    else "uninitialized"
end
