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
  let call_quick _ sync _ = sync ()
  let call_handle sync _ _ = sync ()
  let call_with_handle sync _ _ = sync ()
  let sleep = Unix.sleepf

  (* A counting semaphore without the threads library (which this library
     does not link, and its users need not): [count] is the free permits,
     less the threads waiting (negative: that many wait), changed with
     atomic operations, so taking a free permit or giving one back that
     nobody waits for costs no system call. A thread with none to take
     waits in select (which lets other threads run) for a byte on a pipe;
     giving a permit back while threads wait writes one byte. *)
  type permits = { count : int Atomic.t; r : Unix.file_descr; w : Unix.file_descr }

  let permits n =
    let r, w = Unix.pipe ~cloexec:true () in
    Unix.set_nonblock r;
    let p = { count = Atomic.make n; r; w } in
    Gc.finalise (fun p -> (try Unix.close p.r with Unix.Unix_error _ -> ()); try Unix.close p.w with Unix.Unix_error _ -> ()) p;
    p

  (* A byte from the pipe before [deadline] (none: no limit). *)
  let take_byte p ~deadline =
    let buf = Bytes.create 1 in
    let rec go () =
      match Unix.read p.r buf 0 1 with
      | n -> n = 1
      | exception Unix.Unix_error ((Unix.EAGAIN | Unix.EWOULDBLOCK | Unix.EINTR), _, _) ->
        let left = match deadline with None -> -1. | Some d -> d -. Unix.gettimeofday () in
        if deadline <> None && left <= 0. then false
        else (
          (try ignore (Unix.select [ p.r ] [] [] left) with Unix.Unix_error (Unix.EINTR, _, _) -> ());
          go ())
    in
    go ()

  let acquire p ~timeout =
    Atomic.fetch_and_add p.count (-1) > 0
    || take_byte p ~deadline:(Some (Unix.gettimeofday () +. timeout))
    ||
    (* Time is up: stop waiting, unless a release already counted this
       thread in (the count is no longer negative): its byte is on the
       way, and the permit is this thread's. *)
    let rec leave () =
      let c = Atomic.get p.count in
      if c < 0 then if Atomic.compare_and_set p.count c (c + 1) then false else leave ()
      else take_byte p ~deadline:None
    in
    leave ()

  let release p = if Atomic.fetch_and_add p.count 1 < 0 then ignore (Unix.write_substring p.w "p" 0 1)
end

include Api.Make (Fiber)
