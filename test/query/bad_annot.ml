[%%migrations "migrations"]

let%query q : string * float = "SELECT name, score FROM users"
