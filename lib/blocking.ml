(* Owns the blocking API: the operations over the fiber where ['a io = 'a].
   Each call runs the stub's synchronous export, which releases the OCaml
   runtime lock while the engine works. *)

module Fiber = struct
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
  let call_with_handle sync _ _ = sync ()
  let sleep = Unix.sleepf
end

include Api.Make (Fiber)
