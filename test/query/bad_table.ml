[%%migrations "migrations"]

let%query q = "SELECT name FROM user"
