(** libSQL's vectors as OCaml float arrays: the bytes of its [F32_BLOB(n)]
    and [F64_BLOB(n)] column types, so that a [float array] goes in as a
    parameter and comes out of a row without [vector32('[...]')] text on
    the way.

    {[
      (* CREATE TABLE docs (id INTEGER PRIMARY KEY, embedding F32_BLOB(3));
         CREATE INDEX docs_idx ON docs (libsql_vector_idx(embedding)); *)
      Conn.execute conn "INSERT INTO docs (embedding) VALUES (?)"
        ~params:(`Positional [ Vector.F32.to_value [| 0.1; 0.7; 0.2 |] ]);
      Conn.query_list conn
        "SELECT id FROM vector_top_k('docs_idx', ?, 5)"
        ~params:(`Positional [ Vector.F32.to_value query ])
    ]}

    In a [[@@deriving turso]] record, a field of type [Vector.F32.t] (or
    [Vector.F64.t]) is encoded and decoded by these functions.

    What libSQL checks: a column with a vector index
    ([libsql_vector_idx]) refuses a vector of the wrong dimension
    ([`Sql] error "dimensions are different: 2 != 3"); a column without
    one stores any blob, and a distance between vectors of different
    dimensions is an [`Sql] error ("vectors must have the same length"). *)

module F32 : sig
  type t = float array

  val to_value : t -> Value.t
  (** [F32_BLOB]: each float as IEEE single precision, little-endian (the
      nearest single; a [float] has more precision than a stored one).
      @raise Invalid_argument for an empty array, or a value that is NaN,
      infinite, or too large for single precision (beyond about
      [3.4e38]): libSQL would store it and every distance would be NaN.
      The message says which element. *)

  val of_value : Value.t -> (t, string) result
  (** Reads a vector blob of any precision this module writes ([F32] or
      [F64]); an error for anything else, naming what it found (libSQL's
      compressed types [F16], [BF16], [F8] and [1BIT]: select
      [vector32(column)] or [vector_extract(column)] instead). *)
end

module F64 : sig
  type t = float array

  val to_value : t -> Value.t
  (** [F64_BLOB]: each float as is, little-endian, then libSQL's type
      byte.
      @raise Invalid_argument for an empty array or a NaN or infinite
      value. *)

  val of_value : Value.t -> (t, string) result
  (** As {!F32.of_value}. *)
end

val of_value : Value.t -> (float array, string) result
(** {!F32.of_value}. *)

val dimensions : Value.t -> (int, string) result
(** The number of elements of a vector blob, without decoding it. *)
