(* Golden: what let%query generates (dune runtest diffs it with golden.expected.ml). *)
[%%migrations "migrations"]

let%query find_user = "SELECT id, name, score FROM users WHERE id = :id"
let%query user_name = "SELECT name FROM users WHERE email = ?"
let%query add_user = "INSERT INTO users (name, email, score) VALUES (:name, :email, :score)"
let%query count_users : int = "SELECT count(*) FROM users"
let%query top ~(min : float) : string * float option = "SELECT name, score FROM users WHERE score > :min * 2 LIMIT :n"
let%query with_posts = "SELECT u.name, p.title FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.active = :active"
let%query rename = "UPDATE users SET name = :name, score = :score WHERE id = :id"
