(* Owns the Lwt API: the operations over the fiber where 'a io = 'a Lwt.t.
   A call is queued on the stub's worker threads (rust/src/executor.rs)
   and its promise resolved from the event loop when the stub signals its
   completion on a descriptor the loop watches. *)

module Value = Turso.Value
module Error = Turso.Error
module Row = Turso.Row
module Decode = Turso.Decode
module Encode = Turso.Encode
module Stats = Turso.Stats
module Config = Turso.Config
module Result_set = Turso.Result_set
module Vector = Turso.Vector
module Trace = Turso.Trace
module Migration = Turso.Migration
module Shape = Turso.Shape

type params = Turso.params

let ok_exn = Turso.ok_exn

module Ffi = Turso.Private.Ffi
module Wire = Turso.Private.Wire

(* Requests in flight: each waits for its completion, which the stub
   signals on a descriptor that the event loop watches. *)
module Async = struct
  let pending : (int, string Lwt.u) Hashtbl.t = Hashtbl.create 64
  let last_id = ref 0
  let watching = ref false

  let drain ~woken =
    if not (Ffi.forked ()) then
    Wire.iter_completions (Ffi.async_take woken) (fun id reply ->
        match Hashtbl.find_opt pending id with
        | Some u ->
          Hashtbl.remove pending id;
          Lwt.wakeup_later u reply
        | None -> ())

  (* Before the event loop sleeps while a few requests are in flight, it
     polls for their completions for a moment: a request issued right after
     the previous one completed then costs no sleep and wake-up of this
     thread. With one in flight (or as many as the CPUs besides this
     thread's) that costs the workers nothing. With more, the spinning
     thread takes a CPU from them: worth it while requests are short
     (point lookups: the completion comes during the spin), not when they
     are long (the spin ends with nothing, and the workers ran on fewer
     CPUs). So a spin that found nothing, with more in flight than free
     CPUs, skips the next [backoff] chances to spin. With many in flight,
     wake-ups bring many completions each. (The worker side lingers too;
     see rust/src/executor.rs.) *)
  let spin = 50e-6
  let spin_below = 4
  let free_cpus = lazy (max 1 (Ffi.cpu_count () - 1))
  let backoff = 16
  let skip = ref 0

  let poll_before_sleeping () =
    let n = Hashtbl.length pending in
    if n > 0 && n <= spin_below then begin
      let crowded = n > Lazy.force free_cpus in
      if crowded && !skip > 0 then decr skip
      else begin
        let deadline = Unix.gettimeofday () +. spin in
        Ffi.async_set_polling true;
        while (not (Ffi.async_ready ())) && Unix.gettimeofday () < deadline do () done;
        Ffi.async_set_polling false;
        if Ffi.async_ready () then begin
          drain ~woken:false;
          (* something was resolved: do not let this loop iteration block *)
          ignore (Lwt.pause ())
        end
        else if crowded then skip := backoff
      end
    end

  (* Calls are answered at once (Fiber.call_quick) for [max_hold] seconds
     from the loop turn's first such call ([window_start]; not from the
     turn's start: the turn may have slept in the engine for long, and
     after every idle spell its calls would all find the window past),
     then the next one goes to a worker, so that a loop of quick calls
     still lets timers and other promises run at least that often (a
     resolved promise does not yield). Tried instead (session 10): the call
     waits for the loop's next turn (Lwt.pause) and goes on at once: alone
     that is cheaper (1 in flight 0.95x of blocking against 0.92x), but
     with 16 in flight the hand-offs to workers are what lets them run
     calls in parallel (0.85x against 0.93x), and no cheap signal told the
     two cases apart. *)
  let window_start = ref 0.
  let max_hold = 1e-3
  (* set by each turn: the next quick call starts the window *)
  let fresh = ref true

  (* The clock is read at most every [check_every] quick answers, not at
     each: a read cost ~3% of a point lookup here (perf). How many reads
     are skipped comes from the time per call measured between the last
     two reads, so that the skipped calls cover at most half of what is
     left of the window (a caller doing its own work between calls gets a
     read at each). Once past, the flag spares the turn's other calls. *)
  let check_every = 16
  let unchecked = ref 0
  let skipped = ref 0
  let last_read = ref 0.
  let expired = ref false

  let hold_expired () =
    if !unchecked > 0 then (decr unchecked; false)
    else if !expired then true
    else begin
      let now = Unix.gettimeofday () in
      if !fresh then begin
        fresh := false;
        window_start := now
      end
      else begin
        let elapsed = now -. !window_start in
        if elapsed > max_hold then expired := true
        else begin
          let per_call = (now -. !last_read) /. float (!skipped + 1) in
          let room = (max_hold -. elapsed) /. (2. *. per_call) in
          unchecked :=
            if room >= float (check_every - 1) then check_every - 1 else if room >= 1. then int_of_float room else 0
        end
      end;
      skipped := !unchecked;
      last_read := now;
      !expired
    end

  let watch () =
    if not !watching then begin
      watching := true;
      (* On Unix a file descriptor is its number. *)
      let fd : Unix.file_descr = Obj.magic (Ffi.async_fd () : int) in
      ignore (Lwt_engine.on_readable fd (fun _ -> drain ~woken:true));
      ignore
        (Lwt_main.Enter_iter_hooks.add_first (fun () ->
             fresh := true;
             unchecked := 0;
             expired := false;
             poll_before_sleeping ()))
    end

  let submit async =
    watch ();
    incr last_id;
    let id = !last_id in
    let p, u = Lwt.task () in
    Hashtbl.replace pending id u;
    Lwt.on_cancel p (fun () ->
        if Hashtbl.mem pending id then begin
          Hashtbl.remove pending id;
          Ffi.async_cancel id
        end);
    async id;
    (id, p)
end

module Fiber = struct
  type 'a t = 'a Lwt.t

  let return = Lwt.return
  let bind = Lwt.bind

  let on_exn f cleanup =
    Lwt.catch f (fun exn -> Lwt.bind (cleanup ()) (fun () -> Lwt.fail exn))

  (* In a fork's child the stub's threads are gone: the synchronous
     export answers at once, with the error that says so. *)
  let call sync async = if Ffi.forked () then Lwt.return (sync ()) else snd (Async.submit async)

  (* At once when the stub can answer without waiting (a local read-only
     one-row query that fits a small budget of work, nothing of its
     connection queued): no hand-off to a worker and back, which costs
     such a query about half its time. *)
  let call_quick now sync async =
    if Ffi.forked () then Lwt.return (sync ())
    else begin
      Async.watch ();
      if Async.hold_expired () then snd (Async.submit async)
      else match now () with "" -> snd (Async.submit async) | reply -> Lwt.return reply
    end
  let sleep = Lwt_unix.sleep

  (* Free permits, and the promises waiting for one, oldest first: a
     permit given back goes to the oldest waiter still waiting (one that
     timed out or was cancelled is marked gone and skipped). *)
  type waiter = { u : unit Lwt.u; mutable gone : bool }
  type permits = { mutable free : int; waiters : waiter Queue.t }

  let permits n = { free = n; waiters = Queue.create () }

  let rec acquire p ~timeout =
    if p.free > 0 then begin
      p.free <- p.free - 1;
      Lwt.return true
    end
    else begin
      let w, u = Lwt.task () in
      let me = { u; gone = false } in
      Queue.add me p.waiters;
      Lwt.on_cancel w (fun () -> me.gone <- true);
      (* a permit handed over just as the time ran out is still taken *)
      let handed () = match Lwt.state w with Lwt.Return () -> true | _ -> false in
      let r =
        Lwt.map
          (fun got -> got || handed ())
          (Lwt.pick [ Lwt.map (fun () -> true) w; Lwt.map (fun () -> false) (Lwt_unix.sleep timeout) ])
      in
      Lwt.on_cancel r (fun () -> if handed () then release p);
      r
    end

  and release p =
    match Queue.take_opt p.waiters with
    | Some { gone = true; _ } -> release p
    | Some { u; _ } -> Lwt.wakeup_later u ()
    | None -> p.free <- p.free + 1

  let call_handle sync async take =
    if Ffi.forked () then Lwt.return (sync ()) else
    let id, p = Async.submit async in
    Lwt.map (fun reply -> if Wire.is_ok reply then take id else Error reply) p

  let call_with_handle sync async take =
    if Ffi.forked () then Lwt.return (sync ()) else
    let id, p = Async.submit async in
    Lwt.map (fun reply -> if Wire.is_ok reply then Result.map (fun h -> (h, reply)) (take id) else Error reply) p
end

include Turso.Private.Make (Fiber)

let rows_seq rows =
  let rec next () =
    Lwt.map
      (function
        | Ok (Some row) -> Lwt_seq.Cons (Ok row, next)
        | Ok None -> Lwt_seq.Nil
        | Error e -> Lwt_seq.Cons (Error e, fun () -> Lwt.return Lwt_seq.Nil))
      (Rows.next rows)
  in
  next

module Private = struct
  let pending () = Hashtbl.length Async.pending

  let test_panic () =
    Lwt.map
      (fun r -> if Wire.is_ok r then Ok () else Error (Wire.decode_error r))
      (Fiber.call (fun () -> "") (Ffi.test_panic_async ()))
end
