[%%migrations "migrations"]

let%query q (a : int) (b : int) = "SELECT name FROM users WHERE id = ?"
