(* Owns the reading of .env files: KEY=VALUE lines; blank lines and #
   comments; an optional export prefix; values bare (a space then # starts
   a comment), in single quotes (as is) or in double quotes (with backslash
   escapes for newline, tab, carriage return, double quote and backslash). *)

let unquote_double s =
  let b = Buffer.create (String.length s) in
  let n = String.length s in
  let rec go i =
    if i < n then
      if s.[i] = '\\' && i + 1 < n then begin
        (match s.[i + 1] with
         | 'n' -> Buffer.add_char b '\n'
         | 't' -> Buffer.add_char b '\t'
         | 'r' -> Buffer.add_char b '\r'
         | c -> Buffer.add_char b c);
        go (i + 2)
      end
      else (Buffer.add_char b s.[i]; go (i + 1))
  in
  go 0;
  Buffer.contents b

let value raw =
  let v = String.trim raw in
  let n = String.length v in
  let closing q = match String.index_from_opt v 1 q with Some j -> Some (String.sub v 1 (j - 1)) | None -> None in
  (* the closing double quote is the first one not escaped *)
  let rec closing_double i =
    if i >= n then None
    else if v.[i] = '\\' then closing_double (i + 2)
    else if v.[i] = '"' then Some (String.sub v 1 (i - 1))
    else closing_double (i + 1)
  in
  if n >= 1 && v.[0] = '"' then Option.map unquote_double (closing_double 1)
  else if n >= 1 && v.[0] = '\'' then closing '\''
  else
    let rec cut i =
      if i >= n then v
      else if v.[i] = '#' && i > 0 && (v.[i - 1] = ' ' || v.[i - 1] = '\t') then String.trim (String.sub v 0 i)
      else cut (i + 1)
    in
    Some (if n > 0 && v.[0] = '#' then "" else cut 0)

let parse text =
  List.filter_map
    (fun line ->
      let line = String.trim line in
      if line = "" || line.[0] = '#' then None
      else
        let line =
          if String.length line > 7 && String.sub line 0 7 = "export " then String.trim (String.sub line 7 (String.length line - 7))
          else line
        in
        match String.index_opt line '=' with
        | None -> None
        | Some i ->
          let key = String.trim (String.sub line 0 i) in
          Option.map (fun v -> (key, v)) (value (String.sub line (i + 1) (String.length line - i - 1))))
    (String.split_on_char '\n' text)

let read_file path =
  match open_in_bin path with
  | exception Sys_error _ -> None
  | ic ->
    Fun.protect ~finally:(fun () -> close_in ic) (fun () -> Some (parse (really_input_string ic (in_channel_length ic))))
