(* Owns libSQL's vector encoding: float arrays to and from the bytes of its
   F32_BLOB and F64_BLOB types. The layout is libSQL's (vector.c): the
   elements little-endian; a blob of odd length ends in a type byte (1 F32,
   2 F64, 3 1BIT, 4 F8, 5 F16, 6 BF16), one of even length is F32. *)

let check what a =
  if Array.length a = 0 then
    invalid_arg (Printf.sprintf "Vector.%s.to_value: an empty vector (libSQL needs at least one element)" what);
  Array.iteri
    (fun i x ->
      let bad reason = invalid_arg (Printf.sprintf "Vector.%s.to_value: element %d is %s" what i reason) in
      if Float.is_nan x then bad "NaN (every distance to it would be NaN)"
      else if not (Float.is_finite x) then bad (Float.to_string x ^ " (every distance to it would be NaN)")
      else if what = "F32" && not (Float.is_finite (Int32.float_of_bits (Int32.bits_of_float x))) then
        bad (Printf.sprintf "%g, too large for single precision (it would be stored as infinity)" x))
    a

let type_name = function
  | 1 -> "F32" | 2 -> "F64" | 3 -> "1BIT" | 4 -> "F8" | 5 -> "F16" | 6 -> "BF16" | n -> Printf.sprintf "%d, which libSQL does not define" n

(* The element type and the length of the elements' bytes. *)
let layout = function
  | Value.Blob b ->
    let n = String.length b in
    if n = 0 then Error "an empty blob, not a vector"
    else if n = 1 then Error "a blob of one byte, not a vector (no element)"
    else if n land 1 = 1 then Ok (Char.code b.[n - 1], n - 1, b)
    else Ok (1, n, b)
  | v -> Error (Printf.sprintf "%s, not a vector blob" (Value.type_name v))

let width = function 1 -> Some 4 | 2 -> Some 8 | _ -> None

let dimensions v =
  Result.bind (layout v) (fun (ty, n, _) ->
      match width ty with
      | Some w when n mod w = 0 -> Ok (n / w)
      | Some w -> Error (Printf.sprintf "a vector blob of type %s with %d bytes (not a multiple of %d)" (type_name ty) n w)
      | None -> Error (Printf.sprintf "a vector of type %s (select vector32(column) or vector_extract(column) to read it)" (type_name ty)))

let of_value v =
  Result.bind (dimensions v) (fun dims ->
      match layout v with
      | Ok (1, _, b) -> Ok (Array.init dims (fun i -> Int32.float_of_bits (String.get_int32_le b (4 * i))))
      | Ok (_, _, b) -> Ok (Array.init dims (fun i -> Int64.float_of_bits (String.get_int64_le b (8 * i))))
      | Error e -> Error e)

module F32 = struct
  type t = float array

  let to_value a =
    check "F32" a;
    let b = Bytes.create (4 * Array.length a) in
    Array.iteri (fun i x -> Bytes.set_int32_le b (4 * i) (Int32.bits_of_float x)) a;
    Value.Blob (Bytes.unsafe_to_string b)

  let of_value = of_value
end

module F64 = struct
  type t = float array

  let to_value a =
    check "F64" a;
    let n = Array.length a in
    let b = Bytes.create ((8 * n) + 1) in
    Array.iteri (fun i x -> Bytes.set_int64_le b (8 * i) (Int64.bits_of_float x)) a;
    Bytes.set b (8 * n) '\002';
    Value.Blob (Bytes.unsafe_to_string b)

  let of_value = of_value
end
