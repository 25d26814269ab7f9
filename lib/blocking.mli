(** The blocking API (internal: [Turso] re-exports it). *)

include Api_intf.S with type 'a io = 'a
