(* Compiled as a test, expected to fail: the record says [score : float],
   the schema says the column is nullable. The error is located at the
   column in the SQL. *)
[%%migrations "migrations"]

type user = { name : string; score : float }

let%query q : user = {sql|SELECT name, score FROM users|sql}
