(* What the suites against servers assert with: a result that must be Ok,
   an error of a given kind, text inside a message. *)

let ok = function Ok x -> x | Error e -> Alcotest.failf "unexpected error: %s" (Turso.Error.to_string e)

let err ?kind r =
  match r with
  | Ok _ -> Alcotest.fail "expected an error"
  | Error (e : Turso.Error.t) ->
    Option.iter
      (fun k ->
        Alcotest.(check string)
          ("kind of " ^ Turso.Error.to_string e) (Turso.Error.kind_to_string k) (Turso.Error.kind_to_string e.kind))
      kind;
    e

let contains s sub = try ignore (Str.search_forward (Str.regexp_string sub) s 0); true with Not_found -> false

(* Runs [f messages] with a Logs reporter that keeps the "turso" source's
   messages: [messages ()] returns those since its last call, by level.
   Afterwards the reporter and the tracing settings are put back. *)
let with_captured f =
  let got = ref [] in
  let report src level ~over k msgf =
    if Logs.Src.name src = "turso" then
      msgf (fun ?header:_ ?tags:_ fmt -> Format.kasprintf (fun m -> got := (level, m) :: !got; over (); k ()) fmt)
    else (over (); k ())
  in
  let old = Logs.reporter () in
  Logs.set_reporter { Logs.report };
  Fun.protect
    ~finally:(fun () ->
      Logs.set_reporter old;
      Logs.Src.set_level Turso.Trace.src (Some Logs.Warning);
      Turso.Trace.set_slow None;
      Turso.Trace.set_show_params false)
    (fun () -> f (fun () -> let l = List.rev !got in got := []; l))
