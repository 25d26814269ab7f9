[%%migrations "migrations"]

let%query q = "SELEC name FROM users"
