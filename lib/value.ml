(* Owns SQLite values: the five storage classes, their constructors, how
   they compare and how they print. The type itself is the boundary's
   (Wire.value), so a value crosses to Rust without conversion. *)

type t = Wire.value =
  | Null
  | Integer of int64
  | Real of float
  | Text of string
  | Blob of string

let int i = Integer (Int64.of_int i)
let int64 i = Integer i
let float f = Real f
let text s = Text s
let blob s = Blob s
let bool b = Integer (if b then 1L else 0L)
let option f = function None -> Null | Some x -> f x

let type_name = function
  | Null -> "NULL"
  | Integer _ -> "INTEGER"
  | Real _ -> "REAL"
  | Text _ -> "TEXT"
  | Blob _ -> "BLOB"

let equal a b =
  match (a, b) with
  | Real x, Real y -> Int64.equal (Int64.bits_of_float x) (Int64.bits_of_float y)
  | _ -> a = b

(* The shortest decimal that reads back as the same float. *)
let real_to_string f =
  if Float.is_integer f && Float.abs f < 1e15 then Printf.sprintf "%.1f" f
  else if Float.is_nan f then "NaN"
  else if f = Float.infinity then "Inf"
  else if f = Float.neg_infinity then "-Inf"
  else
    let rec go p =
      let s = Printf.sprintf "%.*g" p f in
      if p >= 17 || Float.equal (float_of_string s) f then s else go (p + 1)
    in
    go 15

let pp ppf = function
  | Null -> Format.pp_print_string ppf "NULL"
  | Integer i -> Format.fprintf ppf "%Ld" i
  | Real f -> Format.pp_print_string ppf (real_to_string f)
  | Text s ->
    Format.fprintf ppf "'%s'"
      (String.concat "''" (String.split_on_char '\'' s))
  | Blob s ->
    Format.pp_print_string ppf "x'";
    String.iter (fun c -> Format.fprintf ppf "%02x" (Char.code c)) s;
    Format.pp_print_string ppf "'"

let to_string v = Format.asprintf "%a" pp v
