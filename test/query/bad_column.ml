[%%migrations "migrations"]

let%query q = "SELECT nme FROM users"
