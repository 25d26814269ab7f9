(** The operations written once over the fiber (internal: [Turso] and
    [Turso_lwt] are its instances). *)

module Make (Fiber : Api_intf.IO) : Api_intf.S with type 'a io = 'a Fiber.t
(** The API over the fiber [Fiber]. *)
