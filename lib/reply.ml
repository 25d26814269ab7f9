(* Owns the reading of the stub's replies into results: a reply is OK
   bytes or an error in the Wire format. *)

let err_of_reply r = Error (Wire.decode_error r)
let[@inline] unit_of_reply r = if Wire.is_ok r then Ok () else err_of_reply r
let[@inline] int64_of_reply r = if Wire.is_ok r then Ok (Wire.int64_at r 1) else err_of_reply r
let handle_of_result = function Ok h -> Ok h | Error r -> err_of_reply r
