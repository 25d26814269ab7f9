[%%migrations "migrations"]

let%query q ?(id = 1) = "SELECT name FROM users WHERE id = :id"
