type find_user = {
  id: int ;
  name: string ;
  score: float option }
let find_user =
  let decode =
    let conv_0 = Turso.Decode.int in
    let conv_1 = Turso.Decode.string in
    let conv_2 = Turso.Decode.option Turso.Decode.float in
    fun (row : Turso.Row.t) ->
      (let vs = Turso.Row.unsafe_values row in
       match if (Array.length vs) <> 3
             then raise_notrace Turso.Decode.Mismatch;
             (let c0 =
                match Array.unsafe_get vs 0 with
                | Turso.Value.Integer i -> Turso.Decode.to_int i
                | _ -> raise_notrace Turso.Decode.Mismatch in
              let c1 =
                match Array.unsafe_get vs 1 with
                | Turso.Value.Text s -> s
                | _ -> raise_notrace Turso.Decode.Mismatch in
              let c2 =
                match Array.unsafe_get vs 2 with
                | Turso.Value.Null -> None
                | v ->
                    Some
                      ((match v with
                        | Turso.Value.Real f -> f
                        | Turso.Value.Integer i -> Int64.to_float i
                        | _ -> raise_notrace Turso.Decode.Mismatch)) in
              ({ id = c0; name = c1; score = c2 } : find_user))
       with
       | v -> Ok v
       | exception Turso.Decode.Mismatch ->
           Error
             (Turso.Decode.diagnose_at row
                [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1);(
                  Turso.Decode.check conv_2)|]) : (find_user, Turso.Error.t)
                                                    result) in
  let names = [|":id"|] in
  fun ~id:(id : int) ->
    Turso.Query.in_order
      ~sql:"SELECT id, name, score FROM users WHERE id = :id" names
      [Turso.Encode.int id] decode
let user_name =
  let decode =
    let conv_0 = Turso.Decode.string in
    fun (row : Turso.Row.t) ->
      (let vs = Turso.Row.unsafe_values row in
       match if (Array.length vs) <> 1
             then raise_notrace Turso.Decode.Mismatch;
             (let c0 =
                match Array.unsafe_get vs 0 with
                | Turso.Value.Text s -> s
                | _ -> raise_notrace Turso.Decode.Mismatch in
              (c0 : string))
       with
       | v -> Ok v
       | exception Turso.Decode.Mismatch ->
           Error
             (Turso.Decode.diagnose_at row [|(Turso.Decode.check conv_0)|]) : 
      (string, Turso.Error.t) result) in
  fun (p1 : string) ->
    Turso.Query.make ~sql:"SELECT name FROM users WHERE email = ?"
      ~params:(`Positional [Turso.Encode.string p1]) decode
let add_user =
  let decode (_ : Turso.Row.t) = (Ok () : (unit, Turso.Error.t) result) in
  let names = [|":name";":email";":score"|] in
  fun ~name:(name : string) ->
    fun ~email:(email : string option) ->
      fun ~score:(score : float option) ->
        Turso.Query.in_order
          ~sql:"INSERT INTO users (name, email, score) VALUES (:name, :email, :score)"
          names
          [Turso.Encode.string name;
          (match email with
           | None -> Turso.Value.Null
           | Some x -> Turso.Encode.string x);
          (match score with
           | None -> Turso.Value.Null
           | Some x -> Turso.Encode.float x)] decode
let count_users =
  let decode =
    let conv_0 = Turso.Decode.int in
    fun (row : Turso.Row.t) ->
      (let vs = Turso.Row.unsafe_values row in
       match if (Array.length vs) <> 1
             then raise_notrace Turso.Decode.Mismatch;
             (let c0 =
                match Array.unsafe_get vs 0 with
                | Turso.Value.Integer i -> Turso.Decode.to_int i
                | _ -> raise_notrace Turso.Decode.Mismatch in
              (c0 : int))
       with
       | v -> Ok v
       | exception Turso.Decode.Mismatch ->
           Error
             (Turso.Decode.diagnose_at row [|(Turso.Decode.check conv_0)|]) : 
      (int, Turso.Error.t) result) in
  Turso.Query.make ~sql:"SELECT count(*) FROM users" decode
let top =
  let decode =
    let conv_0 = Turso.Decode.string in
    let conv_1 = Turso.Decode.option Turso.Decode.float in
    fun (row : Turso.Row.t) ->
      (let vs = Turso.Row.unsafe_values row in
       match if (Array.length vs) <> 2
             then raise_notrace Turso.Decode.Mismatch;
             (let c0 =
                match Array.unsafe_get vs 0 with
                | Turso.Value.Text s -> s
                | _ -> raise_notrace Turso.Decode.Mismatch in
              let c1 =
                match Array.unsafe_get vs 1 with
                | Turso.Value.Null -> None
                | v ->
                    Some
                      ((match v with
                        | Turso.Value.Real f -> f
                        | Turso.Value.Integer i -> Int64.to_float i
                        | _ -> raise_notrace Turso.Decode.Mismatch)) in
              ((c0, c1) : (string * float option)))
       with
       | v -> Ok v
       | exception Turso.Decode.Mismatch ->
           Error
             (Turso.Decode.diagnose_at row
                [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1)|]) : 
      ((string * float option), Turso.Error.t) result) in
  let names = [|":min";":n"|] in
  fun ~min:(min : float) ->
    fun ~n:(n : int) ->
      Turso.Query.in_order
        ~sql:"SELECT name, score FROM users WHERE score > :min * 2 LIMIT :n"
        names [Turso.Encode.float min; Turso.Encode.int n] decode
type with_posts = {
  name: string ;
  title: string option }
let with_posts =
  let decode =
    let conv_0 = Turso.Decode.string in
    let conv_1 = Turso.Decode.option Turso.Decode.string in
    fun (row : Turso.Row.t) ->
      (let vs = Turso.Row.unsafe_values row in
       match if (Array.length vs) <> 2
             then raise_notrace Turso.Decode.Mismatch;
             (let c0 =
                match Array.unsafe_get vs 0 with
                | Turso.Value.Text s -> s
                | _ -> raise_notrace Turso.Decode.Mismatch in
              let c1 =
                match Array.unsafe_get vs 1 with
                | Turso.Value.Null -> None
                | v ->
                    Some
                      ((match v with
                        | Turso.Value.Text s -> s
                        | _ -> raise_notrace Turso.Decode.Mismatch)) in
              ({ name = c0; title = c1 } : with_posts))
       with
       | v -> Ok v
       | exception Turso.Decode.Mismatch ->
           Error
             (Turso.Decode.diagnose_at row
                [|(Turso.Decode.check conv_0);(Turso.Decode.check conv_1)|]) : 
      (with_posts, Turso.Error.t) result) in
  let names = [|":active"|] in
  fun ~active:(active : bool) ->
    Turso.Query.in_order
      ~sql:"SELECT u.name, p.title FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.active = :active"
      names [Turso.Encode.bool active] decode
let rename =
  let decode (_ : Turso.Row.t) = (Ok () : (unit, Turso.Error.t) result) in
  let names = [|":name";":score";":id"|] in
  fun ~name:(name : string) ->
    fun ~score:(score : float option) ->
      fun ~id:(id : int) ->
        Turso.Query.in_order
          ~sql:"UPDATE users SET name = :name, score = :score WHERE id = :id"
          names
          [Turso.Encode.string name;
          (match score with
           | None -> Turso.Value.Null
           | Some x -> Turso.Encode.float x);
          Turso.Encode.int id] decode
