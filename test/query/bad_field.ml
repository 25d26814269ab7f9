[%%migrations "migrations"]

let%query q = "SELECT name, count(*) FROM users GROUP BY name"
