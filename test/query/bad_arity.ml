[%%migrations "migrations"]

let%query q : string * float option * int = "SELECT name, score FROM users"
