(* Owns what the checked-queries ppx reads in a query's SQL text that
   SQLite does not report after preparing it: which column each parameter
   is compared with or stored into (so that the parameter gets that
   column's OCaml type), which parameters are LIMIT/OFFSET counts, and
   whether an outer join can make a result column NULL. A light scan over
   tokens, not a parser: a parameter it cannot place gets no type from it
   (the user annotates it, or it is a Turso.Value.t). *)

type token =
  | Word of string  (** an unquoted identifier or keyword, as written *)
  | Quoted of string  (** "x", `x` or [x]: an identifier *)
  | Param of string  (** [?], [?3], [:name], [\@name], [$name] *)
  | Sym of string  (** operators and punctuation *)
  | Literal  (** a string, blob or number *)

let is_ident_char c =
  match c with 'a' .. 'z' | 'A' .. 'Z' | '0' .. '9' | '_' | '$' -> true | c -> Char.code c >= 0x80

let tokens (sql : string) : token array =
  let n = String.length sql in
  let out = ref [] in
  let push t = out := t :: !out in
  let rec skip_until_char i c = if i >= n then n else if sql.[i] = c then i + 1 else skip_until_char (i + 1) c in
  (* a quoted run ending at [close], doubled [close] standing for itself *)
  let quoted i close =
    let b = Buffer.create 16 in
    let rec go i =
      if i >= n then n
      else if sql.[i] = close then
        if i + 1 < n && sql.[i + 1] = close then (Buffer.add_char b close; go (i + 2)) else i + 1
      else (Buffer.add_char b sql.[i]; go (i + 1))
    in
    let j = go i in
    (Buffer.contents b, j)
  in
  let rec ident_end i = if i < n && is_ident_char sql.[i] then ident_end (i + 1) else i in
  let rec go i =
    if i >= n then ()
    else
      match sql.[i] with
      | ' ' | '\t' | '\n' | '\r' | '\012' -> go (i + 1)
      | '-' when i + 1 < n && sql.[i + 1] = '-' -> go (skip_until_char i '\n')
      | '/' when i + 1 < n && sql.[i + 1] = '*' ->
        let rec close j = if j + 1 >= n then n else if sql.[j] = '*' && sql.[j + 1] = '/' then j + 2 else close (j + 1) in
        go (close (i + 2))
      | '\'' -> let _, j = quoted (i + 1) '\'' in push Literal; go j
      | ('x' | 'X') when i + 1 < n && sql.[i + 1] = '\'' -> let _, j = quoted (i + 2) '\'' in push Literal; go j
      | '"' -> let s, j = quoted (i + 1) '"' in push (Quoted s); go j
      | '`' -> let s, j = quoted (i + 1) '`' in push (Quoted s); go j
      | '[' -> let j = skip_until_char (i + 1) ']' in push (Quoted (String.sub sql (i + 1) (max 0 (j - i - 2)))); go j
      | '0' .. '9' -> number i
      | '.' when i + 1 < n && sql.[i + 1] >= '0' && sql.[i + 1] <= '9' -> number i
      | '?' ->
        let rec digits j = if j < n && sql.[j] >= '0' && sql.[j] <= '9' then digits (j + 1) else j in
        let j = digits (i + 1) in
        push (Param (String.sub sql i (j - i))); go j
      | (':' | '@' | '$') when i + 1 < n && is_ident_char sql.[i + 1] ->
        let j = ident_end (i + 1) in
        push (Param (String.sub sql i (j - i))); go j
      | c when is_ident_char c ->
        let j = ident_end i in
        push (Word (String.sub sql i (j - i))); go j
      | _ ->
        let two = if i + 1 < n then String.sub sql i 2 else "" in
        if two = "->" && i + 2 < n && sql.[i + 2] = '>' then (push (Sym "->>"); go (i + 3))
        else if List.mem two [ "<="; ">="; "<>"; "!="; "=="; "||"; "<<"; ">>"; "->" ] then (push (Sym two); go (i + 2))
        else (push (Sym (String.make 1 sql.[i])); go (i + 1))
  and number i =
    let rec go_num j =
      if j < n then
        match sql.[j] with
        | '0' .. '9' | 'a' .. 'z' | 'A' .. 'Z' | '.' | '_' -> go_num (j + 1)
        | ('+' | '-') when (sql.[j - 1] = 'e' || sql.[j - 1] = 'E') && not (String.length sql > 1 && sql.[i] = '0' && (sql.[i+1] = 'x' || sql.[i+1] = 'X')) -> go_num (j + 1)
        | _ -> j
      else j
    in
    push Literal; go (go_num i)
  in
  go 0;
  Array.of_list (List.rev !out)

let upper = String.uppercase_ascii
let is_kw t k = match t with Word w -> upper w = k | _ -> false

(* Words that end a table reference, so are never its alias. *)
let keywords =
  [ "WHERE"; "JOIN"; "LEFT"; "RIGHT"; "FULL"; "INNER"; "OUTER"; "CROSS"; "NATURAL"; "ON"; "USING"; "GROUP";
    "ORDER"; "LIMIT"; "SET"; "VALUES"; "SELECT"; "UNION"; "EXCEPT"; "INTERSECT"; "HAVING"; "WINDOW";
    "RETURNING"; "DEFAULT"; "AS"; "INDEXED"; "NOT"; "FROM"; "OFFSET"; "DO"; "UPDATE"; "INSERT"; "DELETE" ]

type column_ref = { qualifier : string option; column : string }

(* What a parameter is, as far as the text tells. [`Stored]: its value is
   stored into the column (INSERT values, UPDATE SET): it may be NULL if the
   column may. [`Compared]: compared with the column: never NULL usefully. *)
type use = Compared of column_ref | Stored of column_ref | Positional_insert of string * int | Count

type analysis = {
  uses : (string * use) list;  (** per parameter occurrence, by its token (with [?] numbered: "?1") *)
  tables : (string * string) list;  (** alias (or table) -> table, lowercase *)
  outer_join : bool;  (** a RIGHT or FULL join: any column may be NULL *)
  nullable_tables : string list;  (** tables after a LEFT JOIN: their columns may be NULL *)
}

let ident = function Word w -> Some w | Quoted q -> Some q | _ -> None

let comparison = function
  | Sym ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") -> true
  | Word w -> List.mem (upper w) [ "LIKE"; "GLOB"; "REGEXP"; "MATCH"; "IS" ]
  | _ -> false

let analyse ~(is_table : string -> bool) (sql : string) : analysis =
  let t = tokens sql in
  let n = Array.length t in
  let get i = if i >= 0 && i < n then Some t.(i) else None in
  (* A column reference ending at token [i] (the column's token). *)
  let col_ending_at i =
    match get i with
    | Some (Word w) when List.mem (upper w) keywords || upper w = "NULL" -> None
    | Some tok -> (
      match ident tok with
      | None -> None
      | Some column -> (
        if get (i + 1) = Some (Sym "(") then None
        else
          match (get (i - 1), get (i - 2)) with
          | Some (Sym "."), Some q -> Option.map (fun q -> { qualifier = Some q; column }) (ident q)
          | _ -> Some { qualifier = None; column }))
    | None -> None
  in
  (* A column reference starting at token [i]. *)
  let col_starting_at i =
    match (get i, get (i + 1), get (i + 2)) with
    | Some a, Some (Sym "."), Some b -> (
      match (ident a, ident b) with
      | Some q, Some c when get (i + 3) <> Some (Sym "(") -> Some { qualifier = Some q; column = c }
      | _ -> None)
    | Some a, _, _ -> (
      match a with
      | Word w when List.mem (upper w) keywords || upper w = "NULL" -> None
      | _ -> if get (i + 1) = Some (Sym "(") then None else Option.map (fun c -> { qualifier = None; column = c }) (ident a))
    | None, _, _ -> None
  in
  (* Tables and their aliases. *)
  let tables = ref [] in
  Array.iteri
    (fun i tok ->
      match ident tok with
      | Some name when is_table name && get (i - 1) <> Some (Sym ".") && get (i + 1) <> Some (Sym ".") ->
        let table = String.lowercase_ascii name in
        tables := (table, table) :: !tables;
        let alias_at j =
          match get j with
          | Some tok -> (
            match tok with
            | Word w when List.mem (upper w) keywords -> None
            | _ -> ident tok)
          | None -> None
        in
        let alias = if is_kw (Option.value (get (i + 1)) ~default:Literal) "AS" then alias_at (i + 2) else alias_at (i + 1) in
        Option.iter (fun a -> tables := (String.lowercase_ascii a, table) :: !tables) alias
      | _ -> ())
    t;
  (* Outer joins: the table after LEFT JOIN may be all NULL in a row; with
     RIGHT or FULL JOIN, any table may. *)
  let outer_join = ref false and nullable_tables = ref [] in
  Array.iteri
    (fun i tok ->
      let join_at = match get (i + 1) with Some x when is_kw x "OUTER" -> i + 2 | _ -> i + 1 in
      if Option.fold ~none:false ~some:(fun x -> is_kw x "JOIN") (get join_at) then
        if is_kw tok "LEFT" then
          Option.iter
            (fun name -> nullable_tables := String.lowercase_ascii name :: !nullable_tables)
            (Option.bind (get (join_at + 1)) ident)
        else if is_kw tok "RIGHT" || is_kw tok "FULL" then outer_join := true)
    t;
  let nullable_tables =
    List.map (fun a -> Option.value (List.assoc_opt a !tables) ~default:a) !nullable_tables
  in
  let outer_join = !outer_join in
  (* [?] parameters are numbered as SQLite numbers them: one past the
     largest index so far. *)
  let names = Array.make n "" in
  let max_index = ref 0 in
  let named = Hashtbl.create 8 in
  Array.iteri
    (fun i tok ->
      match tok with
      | Param "?" -> incr max_index; names.(i) <- "?" ^ string_of_int !max_index
      | Param p when p.[0] = '?' ->
        let k = int_of_string (String.sub p 1 (String.length p - 1)) in
        max_index := max !max_index k; names.(i) <- p
      | Param p ->
        if not (Hashtbl.mem named p) then (incr max_index; Hashtbl.replace named p ());
        names.(i) <- p
      | _ -> ())
    t;
  let uses = ref [] in
  let add i u = uses := (names.(i), u) :: !uses in
  (* The SET clause of an UPDATE (or an upsert): from SET to WHERE, FROM or
     RETURNING at the same depth. *)
  let in_set = Array.make n false in
  let depth = Array.make n 0 in
  let d = ref 0 in
  let setting = ref None in
  Array.iteri
    (fun i tok ->
      (match tok with Sym "(" -> incr d | Sym ")" -> decr d | _ -> ());
      depth.(i) <- !d;
      (match !setting with
      | Some sd when !d = sd && List.exists (is_kw tok) [ "WHERE"; "FROM"; "RETURNING" ] -> setting := None
      | Some sd when !d < sd -> setting := None
      | _ -> ());
      if is_kw tok "SET" then setting := Some !d;
      in_set.(i) <- !setting <> None)
    t;
  Array.iteri
    (fun i tok ->
      match tok with
      | Param _ -> (
        let before = get (i - 1) and after = get (i + 1) in
        let prev_is k = match before with Some b -> is_kw b k | None -> false in
        if prev_is "LIMIT" || prev_is "OFFSET" then add i Count
        else if before = Some (Sym ",") && (match get (i - 3) with Some b -> is_kw b "LIMIT" | None -> false) then add i Count
        else
          match before with
          | Some b when comparison b -> (
            let j = if (match get (i - 2) with Some x -> is_kw x "NOT" | None -> false) && is_kw b "IS" then i - 3 else i - 2 in
            let j = if is_kw (Option.value (get (i - 2)) ~default:Literal) "NOT" && not (is_kw b "IS") then i - 3 else j in
            match col_ending_at j with
            | Some c -> add i (if b = Sym "=" && in_set.(i) then Stored c else Compared c)
            | None -> ())
          | Some b when is_kw b "BETWEEN" -> Option.iter (fun c -> add i (Compared c)) (col_ending_at (i - 2))
          | Some b when is_kw b "AND" && (match get (i - 3) with Some x -> is_kw x "BETWEEN" | None -> false) ->
            Option.iter (fun c -> add i (Compared c)) (col_ending_at (i - 4))
          | _ -> (
            match after with
            | Some a when comparison a && not (is_kw a "IS") -> Option.iter (fun c -> add i (Compared c)) (col_starting_at (i + 2))
            | _ -> ()))
      | _ -> ())
    t;
  (* IN lists: [col IN (p, p, ...)], each parameter alone between commas. *)
  Array.iteri
    (fun i tok ->
      if is_kw tok "IN" && get (i + 1) = Some (Sym "(") then
        match col_ending_at (if (match get (i - 1) with Some x -> is_kw x "NOT" | None -> false) then i - 2 else i - 1) with
        | None -> ()
        | Some c ->
          let rec go j =
            match get j with
            | Some (Param _) when (get (j + 1) = Some (Sym ",") || get (j + 1) = Some (Sym ")")) ->
              add j (Compared c); skip (j + 1)
            | _ -> ()
          and skip j = match get j with Some (Sym ",") -> go (j + 1) | _ -> () in
          go (i + 2))
    t;
  (* INSERT [OR x] INTO table [(columns)] VALUES (v, ...), (v, ...):
     a value that is one parameter is stored into its column. *)
  (let rec find_into i = if i >= n then None else if is_kw t.(i) "INTO" then Some i else if is_kw t.(i) "SELECT" then None else find_into (i + 1) in
   match (get 0, find_into 0) with
   | Some first, Some into when is_kw first "INSERT" || is_kw first "REPLACE" -> (
     let table_at = if get (into + 2) = Some (Sym ".") then into + 3 else into + 1 in
     match Option.bind (get table_at) ident with
     | None -> ()
     | Some table ->
       let k = ref (table_at + 1) in
       if is_kw (Option.value (get !k) ~default:Literal) "AS" then k := !k + 2;
       let columns =
         if get !k = Some (Sym "(") then begin
           let rec cols j acc =
             match get j with
             | Some (Sym ")") -> k := j + 1; List.rev acc
             | Some (Sym ",") -> cols (j + 1) acc
             | Some tok -> (match ident tok with Some c -> cols (j + 1) (c :: acc) | None -> k := n; [])
             | None -> k := n; []
           in
           Some (cols (!k + 1) [])
         end
         else None
       in
       if is_kw (Option.value (get !k) ~default:Literal) "VALUES" then begin
         let rec tuple j =
           if get j = Some (Sym "(") then begin
             let rec elems j pos =
               let start = j in
               let rec to_sep j dd =
                 match get j with
                 | None -> j
                 | Some (Sym "(") -> to_sep (j + 1) (dd + 1)
                 | Some (Sym ")") when dd = 0 -> j
                 | Some (Sym ")") -> to_sep (j + 1) (dd - 1)
                 | Some (Sym ",") when dd = 0 -> j
                 | _ -> to_sep (j + 1) dd
               in
               let stop = to_sep start 0 in
               (if stop = start + 1 then
                  match get start with
                  | Some (Param _) -> (
                    match columns with
                    | Some cs -> (
                      match List.nth_opt cs pos with
                      | Some c -> add start (Stored { qualifier = Some table; column = c })
                      | None -> ())
                    | None -> add start (Positional_insert (table, pos)))
                  | _ -> ());
               match get stop with
               | Some (Sym ",") -> elems (stop + 1) (pos + 1)
               | Some (Sym ")") -> if get (stop + 1) = Some (Sym ",") then tuple (stop + 2)
               | _ -> ()
             in
             elems (j + 1) 0
           end
         in
         tuple (!k + 1)
       end)
   | _ -> ());
  { uses = List.rev !uses; tables = !tables; outer_join; nullable_tables }
