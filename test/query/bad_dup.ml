[%%migrations "migrations"]

let%query q = "SELECT u.name, p.title AS name FROM users u JOIN posts p ON p.user_id = u.id"
