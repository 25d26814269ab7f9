let%query q = "SELECT 1 AS one"
