[%%migrations "migrations"]

let%query q = "SELECT name FROM users WHERE id = :Id"
