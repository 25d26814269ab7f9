type schedule =
  {
  id: int64 ;
  email: string ;
  send_at: float ;
  attempts: int ;
  payload: string option ;
  sent: bool }[@@deriving turso]
include
  struct
    let _ = fun (_ : schedule) -> ()
    let schedule_columns =
      ["id"; "email"; "send_at"; "attempts"; "payload"; "sent"]
    let _ = schedule_columns
    let schedule_of_row =
      let conv_0 = Turso.Decode.int64 in
      let conv_1 = Turso.Decode.string in
      let conv_2 = Turso.Decode.float in
      let conv_3 = Turso.Decode.int in
      let conv_4 = Turso.Decode.option Turso.Decode.string in
      let conv_5 = Turso.Decode.bool in
      let layout =
        Turso.Decode.layout
          [|"id";"email";"send_at";"attempts";"payload";"sent"|]
          [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1);(
            Turso.Decode.check conv_2);(Turso.Decode.check conv_3);(Turso.Decode.check
                                                                    conv_4);(
            Turso.Decode.check conv_5)|]
          [|false;false;false;false;false;false|] in
      fun (row : Turso.Row.t) ->
        (let idx = Turso.Decode.resolve layout row in
         match let f_id =
                 match Turso.Decode.value_at row idx 0 with
                 | Turso.Value.Integer i -> i
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               let f_email =
                 match Turso.Decode.value_at row idx 1 with
                 | Turso.Value.Text s -> s
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               let f_send_at =
                 match Turso.Decode.value_at row idx 2 with
                 | Turso.Value.Real f -> f
                 | Turso.Value.Integer i -> Int64.to_float i
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               let f_attempts =
                 match Turso.Decode.value_at row idx 3 with
                 | Turso.Value.Integer i -> Turso.Decode.to_int i
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               let f_payload =
                 match Turso.Decode.value_at row idx 4 with
                 | Turso.Value.Null -> None
                 | v ->
                     Some
                       ((match v with
                         | Turso.Value.Text s -> s
                         | _ -> raise_notrace Turso.Decode.Mismatch)) in
               let f_sent =
                 match Turso.Decode.value_at row idx 5 with
                 | Turso.Value.Integer 0L -> false
                 | Turso.Value.Integer 1L -> true
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               {
                 id = f_id;
                 email = f_email;
                 send_at = f_send_at;
                 attempts = f_attempts;
                 payload = f_payload;
                 sent = f_sent
               }
         with
         | v -> Ok v
         | exception Turso.Decode.Mismatch ->
             Error (Turso.Decode.diagnose layout row idx) : (schedule,
                                                              Turso.Error.t)
                                                              result)
    let _ = schedule_of_row
    let schedule_to_params (x : schedule) =
      (`Named
         [("id", (Turso.Encode.int64 x.id));
         ("email", (Turso.Encode.string x.email));
         ("send_at", (Turso.Encode.float x.send_at));
         ("attempts", (Turso.Encode.int x.attempts));
         ("payload", ((Turso.Encode.option Turso.Encode.string) x.payload));
         ("sent", (Turso.Encode.bool x.sent))] : Turso.params)
    let _ = schedule_to_params
    let schedule_to_values (x : schedule) =
      ([Turso.Encode.int64 x.id;
       Turso.Encode.string x.email;
       Turso.Encode.float x.send_at;
       Turso.Encode.int x.attempts;
       (Turso.Encode.option Turso.Encode.string) x.payload;
       Turso.Encode.bool x.sent] : Turso.Value.t list)
    let _ = schedule_to_values
  end[@@ocaml.doc "@inline"][@@merlin.hide ]
type t =
  {
  key: string [@turso.column "k"];
  n: int32 [@turso.default 0l];
  data: bytes option ;
  when_: Stamp.t ;
  raw: Turso.Value.t ;
  level: Level.t [@turso.of_value Level.decode][@turso.to_value Level.encode]}
[@@deriving turso]
include
  struct
    let _ = fun (_ : t) -> ()
    let columns = ["k"; "n"; "data"; "when_"; "raw"; "level"]
    let _ = columns
    let of_row =
      let conv_0 = Turso.Decode.string in
      let conv_1 = Turso.Decode.int32 in
      let conv_2 = Turso.Decode.option Turso.Decode.bytes in
      let conv_3 = Turso.Decode.custom ~expected:"Stamp" Stamp.of_value in
      let conv_4 = Turso.Decode.value in
      let conv_5 = Turso.Decode.custom ~expected:"Level.t" Level.decode in
      let layout =
        Turso.Decode.layout [|"k";"n";"data";"when_";"raw";"level"|]
          [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1);(
            Turso.Decode.check conv_2);(Turso.Decode.check conv_3);(Turso.Decode.check
                                                                    conv_4);(
            Turso.Decode.check conv_5)|]
          [|false;true;false;false;false;false|] in
      fun (row : Turso.Row.t) ->
        (let idx = Turso.Decode.resolve layout row in
         match let f_key =
                 match Turso.Decode.value_at row idx 0 with
                 | Turso.Value.Text s -> s
                 | _ -> raise_notrace Turso.Decode.Mismatch in
               let f_n =
                 if Turso.Decode.present idx 1
                 then
                   match Turso.Decode.value_at row idx 1 with
                   | Turso.Value.Integer i -> Turso.Decode.to_int32 i
                   | _ -> raise_notrace Turso.Decode.Mismatch
                 else 0l in
               let f_data =
                 match Turso.Decode.value_at row idx 2 with
                 | Turso.Value.Null -> None
                 | v ->
                     Some
                       ((match v with
                         | Turso.Value.Blob s -> Bytes.of_string s
                         | _ -> raise_notrace Turso.Decode.Mismatch)) in
               let f_when_ =
                 Turso.Decode.read conv_3 (Turso.Decode.value_at row idx 3) in
               let f_raw = Turso.Decode.value_at row idx 4 in
               let f_level =
                 Turso.Decode.read conv_5 (Turso.Decode.value_at row idx 5) in
               {
                 key = f_key;
                 n = f_n;
                 data = f_data;
                 when_ = f_when_;
                 raw = f_raw;
                 level = f_level
               }
         with
         | v -> Ok v
         | exception Turso.Decode.Mismatch ->
             Error (Turso.Decode.diagnose layout row idx) : (t,
                                                              Turso.Error.t)
                                                              result)
    let _ = of_row
    let to_params (x : t) =
      (`Named
         [("k", (Turso.Encode.string x.key));
         ("n", (Turso.Encode.int32 x.n));
         ("data", ((Turso.Encode.option Turso.Encode.bytes) x.data));
         ("when_", (Stamp.to_value x.when_));
         ("raw", (Turso.Encode.value x.raw));
         ("level", (Level.encode x.level))] : Turso.params)
    let _ = to_params
    let to_values (x : t) =
      ([Turso.Encode.string x.key;
       Turso.Encode.int32 x.n;
       (Turso.Encode.option Turso.Encode.bytes) x.data;
       Stamp.to_value x.when_;
       Turso.Encode.value x.raw;
       Level.encode x.level] : Turso.Value.t list)
    let _ = to_values
  end[@@ocaml.doc "@inline"][@@merlin.hide ]
type pair = (int64 * string)[@@deriving turso]
include
  struct
    let _ = fun (_ : pair) -> ()
    let pair_of_row =
      let conv_0 = Turso.Decode.int64 in
      let conv_1 = Turso.Decode.string in
      fun (row : Turso.Row.t) ->
        (match let c0 = Turso.Decode.at row 0 conv_0 in
               let c1 = Turso.Decode.at row 1 conv_1 in (c0, c1)
         with
         | v -> Ok v
         | exception Turso.Decode.Mismatch ->
             Error
               (Turso.Decode.diagnose_at row
                  [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1)|]) : 
        (pair, Turso.Error.t) result)
    let _ = pair_of_row
    let pair_to_params ((c0, c1) : pair) =
      (`Positional [Turso.Encode.int64 c0; Turso.Encode.string c1] : 
      Turso.params)
    let _ = pair_to_params
    let pair_to_values ((c0, c1) : pair) =
      ([Turso.Encode.int64 c0; Turso.Encode.string c1] : Turso.Value.t list)
    let _ = pair_to_values
  end[@@ocaml.doc "@inline"][@@merlin.hide ]
