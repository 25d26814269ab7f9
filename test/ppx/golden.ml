type schedule = {
  id : int64;
  email : string;
  send_at : float;
  attempts : int;
  payload : string option;
  sent : bool;
} [@@deriving turso]

type t = {
  key : string; [@turso.column "k"]
  n : int32; [@turso.default 0l]
  data : bytes option;
  when_ : Stamp.t;
  raw : Turso.Value.t;
  level : Level.t; [@turso.of_value Level.decode] [@turso.to_value Level.encode]
} [@@deriving turso]

type pair = int64 * string [@@deriving turso]
