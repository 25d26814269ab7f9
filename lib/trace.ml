(* Owns tracing: the "turso" Logs source, what a statement, a sync or a
   retry reports, and the settings (slow threshold, parameter values).
   Api calls in here only when [on ()] (statements) or always (syncs and
   retries, rare), so an app that does not trace pays one level check. *)

let src = Logs.Src.create "turso" ~doc:"turso: statements, syncs and retries"

module Log = (val Logs.src_log src : Logs.LOG)

let slow = ref None
let show_params = ref false

let set_slow s =
  (match s with
   | Some s when not (s >= 0.) -> invalid_arg "Trace.set_slow: a threshold of 0 s or more"
   | _ -> ());
  slow := s

let set_show_params b = show_params := b
let on () = !slow <> None || (match Logs.Src.level src with Some Logs.Debug -> true | _ -> false)
let now = Unix.gettimeofday

(* Cut at [n] bytes, not inside a UTF-8 sequence. *)
let cut n s =
  if String.length s <= n then s
  else
    let rec back i = if i > 0 && Char.code s.[i] land 0xC0 = 0x80 then back (i - 1) else i in
    String.sub s 0 (back n) ^ "…"

let fold sql =
  let b = Buffer.create (min 256 (String.length sql)) in
  let space = ref false in
  String.iter
    (fun c ->
      match c with
      | ' ' | '\n' | '\r' | '\t' -> space := Buffer.length b > 0
      | c ->
        if !space then Buffer.add_char b ' ';
        space := false;
        Buffer.add_char b c)
    sql;
  cut 200 (Buffer.contents b)

let value v =
  if !show_params then
    match v with
    | Value.Text s -> Value.to_string (Value.Text (cut 40 s))
    | Value.Blob s when String.length s > 40 -> Printf.sprintf "BLOB of %d bytes" (String.length s)
    | v -> Value.to_string v
  else Value.type_name v

let params = function
  | None | Some (`Positional []) | Some (`Named []) -> ""
  | Some (`Positional l) ->
    Printf.sprintf " [%s]" (String.concat ", " (List.map value l))
  | Some (`Named l) -> Printf.sprintf " [%s]" (String.concat ", " (List.map (fun (n, v) -> n ^ " " ^ value v) l))

type outcome = Changed of int64 | Returned of int | Streamed | Done | Failed of Error.t

let plural n what = Printf.sprintf "%d %s%s" n what (if n = 1 then "" else "s")

let statement ~mode ~sql ~params:p started outcome =
  let took = now () -. started in
  let said () =
    Printf.sprintf "%s %.3f ms: %s%s -> %s" mode (took *. 1000.) (fold sql) (params p)
      (match outcome with
       | Changed n -> plural (Int64.to_int n) "row" ^ " changed"
       | Returned n -> plural n "row"
       | Streamed -> "streamed"
       | Done -> "done"
       | Failed e -> Error.to_string { e with sql = None })
  in
  match !slow with
  | Some s when took >= s -> Log.warn (fun m -> m "slow statement (%.0f ms or more): %s" (s *. 1000.) (said ()))
  | _ -> Log.debug (fun m -> m "%s" (said ()))

let sync ~mode what started r =
  let took = now () -. started in
  match r with
  | Ok did -> Log.info (fun m -> m "%s %s in %.1f ms: %s" mode what (took *. 1000.) did)
  | Error e -> Log.info (fun m -> m "%s %s failed after %.1f ms: %s" mode what (took *. 1000.) (Error.to_string e))

let retry ~attempt ~attempts ~delay e =
  Log.warn (fun m -> m "retry %d of %d in %.2f s after: %s" attempt (attempts - 1) delay (Error.to_string e))
