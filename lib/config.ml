(* Owns configuration: which database to open, read from the environment
   and .env (Dotenv), with URLs and tokens shown redacted. *)

type t =
  | Local of { path : string; encryption_key : string option }
  | Remote of { url : string; auth_token : string }
  | Replica of { path : string; url : string; auth_token : string; encryption_key : string option }
  | Synced of {
      path : string;
      url : string;
      auth_token : string;
      push_interval : float option;
      pull_interval : float option;
      auto_push : bool;
    }

let local ?encryption_key path = Local { path; encryption_key }

let synced ?push_interval ?pull_interval ?(auto_push = false) ~path ~url ~auth_token () =
  Synced { path; url; auth_token; push_interval; pull_interval; auto_push }

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

(* A synced database's background work: TURSO_PUSH_INTERVAL and
   TURSO_PULL_INTERVAL (seconds), TURSO_AUTO_PUSH (a yes or a no). A value
   that is neither is an error naming the variable, not a silent default:
   a typo would otherwise leave an app never pushing. *)
let background_vars = [ "TURSO_PUSH_INTERVAL"; "TURSO_PULL_INTERVAL"; "TURSO_AUTO_PUSH" ]

let background e =
  let bad name v what = Error (Error.make `Config (Printf.sprintf "%s=%s: %s" name v what)) in
  let interval name =
    match var e name with
    | None -> Ok None
    | Some v -> (
      match float_of_string_opt (String.trim v) with
      | Some f when f > 0. && Float.is_finite f -> Ok (Some f)
      | _ -> bad name v "not a number of seconds above 0")
  in
  let ( let* ) = Result.bind in
  let* push_interval = interval "TURSO_PUSH_INTERVAL" in
  let* pull_interval = interval "TURSO_PULL_INTERVAL" in
  let* auto_push =
    match Option.map (fun v -> String.lowercase_ascii (String.trim v)) (var e "TURSO_AUTO_PUSH") with
    | None | Some ("0" | "false" | "no" | "off") -> Ok false
    | Some ("1" | "true" | "yes" | "on") -> Ok true
    | Some _ -> bad "TURSO_AUTO_PUSH" (Option.get (var e "TURSO_AUTO_PUSH")) "say 1, true, yes or on, or 0, false, no or off"
  in
  Ok (push_interval, pull_interval, auto_push)

(* TURSO_REPLICA_PATH=none means: no replica, the remote database itself *)
let no_replica e = var e "TURSO_REPLICA_PATH" = Some "none"

type mode = [ `Local | `Remote | `Replica | `Synced ]

(* The variables that only some modes use, set for another: an error that
   names them, never silently ignored (a key that encrypts nothing, a push
   interval that never pushes). *)
let misplaced e (mode : mode) =
  let say fmt = Printf.ksprintf (fun s -> Some (Error.make `Config s)) fmt in
  match (mode, var e "TURSO_ENCRYPTION_KEY", List.find_opt (fun v -> var e v <> None) background_vars) with
  | `Synced, Some _, _ ->
    say "TURSO_ENCRYPTION_KEY encrypts local files and replicas; a synced database (Turso engine) cannot be encrypted here yet (unset it)"
  | `Remote, Some _, _ ->
    say "TURSO_ENCRYPTION_KEY encrypts local files and replicas; a remote database without a replica has none (unset it)"
  | (`Local | `Remote | `Replica), _, Some v -> say "%s is for a synced database: set TURSO_SYNCED_PATH too (or unset %s)" v v
  | _ -> None

let of_env ?env_file () =
  let e = env ?env_file () in
  let encryption_key = var e "TURSO_ENCRYPTION_KEY" in
  let checked mode v = match misplaced e mode with Some err -> Error err | None -> v () in
  match var e "TURSO_DATABASE_URL" with
  | None ->
    Error
      (Error.make `Config
         (Printf.sprintf
            "TURSO_DATABASE_URL is not set (in the environment or in %s): set it to a libsql://, https://, http:// or file: URL"
            e.env_file))
  | Some url when not (is_remote_url url) -> (
    match scheme url with
    | None | Some "file" -> checked `Local (fun () -> Ok (Local { path = url; encryption_key }))
    | Some other ->
      Error
        (Error.make `Config
           (Printf.sprintf
              "TURSO_DATABASE_URL: unsupported URL scheme %S (use libsql://, https://, http://, wss://, ws://, a file: URI or a path)"
              other)))
  | Some url -> (
    let auth_token = Option.value (var e "TURSO_AUTH_TOKEN") ~default:"" in
    match var e "TURSO_SYNCED_PATH" with
    | Some path ->
      checked `Synced (fun () ->
          Result.map
            (fun (push_interval, pull_interval, auto_push) ->
              Synced { path; url; auth_token; push_interval; pull_interval; auto_push })
            (background e))
    | None when no_replica e -> checked `Remote (fun () -> Ok (Remote { url; auth_token }))
    | None ->
      let path = Option.value (var e "TURSO_REPLICA_PATH") ~default:default_replica_path in
      checked `Replica (fun () -> Ok (Replica { path; url; auth_token; encryption_key })))

let token_note t = if t = "" then "not set" else Printf.sprintf "set (%d characters)" (String.length t)

(* the key itself never *)
let key_note = function None -> "" | Some _ -> " (encrypted, key set)"

let to_string = function
  | Local { path; encryption_key } -> Printf.sprintf "local file %s%s" path (key_note encryption_key)
  | Remote { url; auth_token } -> Printf.sprintf "remote %s, auth token %s" (redact_url url) (token_note auth_token)
  | Replica { path; url; auth_token; encryption_key } ->
    Printf.sprintf "embedded replica %s%s of %s, auth token %s" path (key_note encryption_key) (redact_url url)
      (token_note auth_token)
  | Synced { path; url; auth_token; push_interval; pull_interval; auto_push } ->
    let every what = Option.map (Printf.sprintf "%s every %g s" what) in
    let background =
      List.filter_map Fun.id
        [ every "push" push_interval; every "pull" pull_interval; (if auto_push then Some "every commit pushed" else None) ]
    in
    Printf.sprintf "synced database %s (Turso engine) of %s, auth token %s%s" path (redact_url url) (token_note auth_token)
      (if background = [] then "" else "; " ^ String.concat ", " background)

let pp ppf t = Format.pp_print_string ppf (to_string t)
