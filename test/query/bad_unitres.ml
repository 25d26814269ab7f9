[%%migrations "migrations"]

let%query q : int = "DELETE FROM users"
