[%%migrations "migrations"]

let%query q = String.concat "" ["SELECT 1"]
