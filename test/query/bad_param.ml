[%%migrations "migrations"]

let%query q ~(idd : int) = "SELECT name FROM users WHERE id = :id"
