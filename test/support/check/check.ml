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
