(** Statement parameters: by position or by name. *)

type t =
  [ `Positional of Value.t list  (** bound to [?], [?NNN] by position *)
  | `Named of (string * Value.t) list
    (** bound to [:name], [@name], [$name]; a name may be given with its
        prefix (["@id"]) or without (["id"]) *) ]
(** Statement parameters. The count (positional) or the set of names
    (named) must match the statement exactly: a missing, extra or unknown
    parameter is a [`Misuse] error, never a silent [NULL]. [Real nan] and
    [Text] that is not valid UTF-8 are refused with [`Misuse]. *)


(**/**)

val encode : t option -> string
(** The boundary's encoding ([""] for none). *)
