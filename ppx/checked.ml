(* Owns the checked queries: [%%migrations "DIR"] and [let%query].

   At compile time the ppx opens an in-memory database on the real engine
   (this library's own libSQL), applies the migrations of DIR (relative to
   the source file) with Turso.Migrate, and prepares each query on it: a
   statement the schema rejects is a compile error at the query, with
   SQLite's message. The query's shape (Conn.describe: declared types,
   origin columns, NOT NULL) types the result; the parameters take the
   type of the column they are compared with or stored into (Sql_scan),
   or the user's annotation. The generated value is a Turso.Query.t,
   which Turso.Query and Turso_lwt.Query run alike.

   [let migrations = [%migrations "DIR"]] does the same and is the
   migrations as a list, the files embedded, so that the program applies
   the schema its queries were checked against without reading DIR.

   let%query find_user ~(id : int) : user = "SELECT ..."   (annotations optional)
   expands to, with no result annotation and several columns,
     type find_user = { id : int; name : string; ... }
     let find_user = ... fun ~id -> Turso.Query.make ~sql ~params decode *)

open Ppxlib
module B = Ast_builder.Default

(* {1 The compile-time database} *)

type table_column = { cname : string; ctype : string option; cnotnull : bool; cpk : bool }

type schema = {
  migrations : Turso.Migration.t list;  (** as read, in order *)
  conn : Turso.Conn.t;
  tables : (string, table_column list) Hashtbl.t;  (** by lowercase name, columns in order *)
}

let schemas : (string, schema) Hashtbl.t = Hashtbl.create 1
let current : schema option ref = ref None

let fail ~loc fmt = Location.raise_errorf ~loc fmt

let load ~loc dir =
  match Hashtbl.find_opt schemas dir with
  | Some s -> s
  | None ->
    let ok what = function
      | Ok v -> v
      | Error (e : Turso.Error.t) -> fail ~loc "[%%%%migrations]: %s: %s" what e.message
    in
    let migrations = ok "reading the migrations" (Turso.Migration.of_dir dir) in
    let db = ok "opening the compile-time database" (Turso.Db.open_local ":memory:") in
    let conn = ok "connecting" (Turso.Conn.connect db) in
    ignore (ok ("applying the migrations of " ^ dir) (Turso.Migrate.run conn migrations));
    let tables = Hashtbl.create 16 in
    let names =
      ok "reading the schema"
        (Turso.Conn.query_list conn "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')")
    in
    List.iter
      (fun r ->
        match Turso.Row.get r 0 with
        | Turso.Value.Text name ->
          let cols =
            ok "reading the schema"
              (Turso.Conn.query_list conn "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)"
                 ~params:(`Positional [ Turso.Value.Text name ]))
            |> List.map (fun r ->
                   let text i = match Turso.Row.get r i with Turso.Value.Text s -> s | _ -> "" in
                   let flag i = match Turso.Row.get r i with Turso.Value.Integer 0L -> false | _ -> true in
                   { cname = text 0; ctype = (match text 1 with "" -> None | t -> Some t); cnotnull = flag 2; cpk = flag 3 })
          in
          Hashtbl.replace tables (String.lowercase_ascii name) cols
        | _ -> ())
      names;
    let s = { migrations; conn; tables } in
    Hashtbl.replace schemas dir s;
    s

(* {1 Types} *)

type base = Int | Float | Text | Blob | Bool | F32 | F64 | Any

(* SQLite's affinity rules, in its order (section 3.1 of "Datatypes In
   SQLite"), plus BOOL/BOOLEAN and libSQL's vector types. *)
let base_of_decl = function
  | None -> Any
  | Some d ->
    let d = String.uppercase_ascii d in
    let has s =
      let n = String.length s and m = String.length d in
      let rec go i = i + n <= m && (String.sub d i n = s || go (i + 1)) in
      go 0
    in
    if d = "BOOL" || d = "BOOLEAN" then Bool
    else if has "INT" then Int
    else if has "F32_BLOB" then F32
    else if has "F64_BLOB" then F64
    else if has "CHAR" || has "CLOB" || has "TEXT" then Text
    else if has "BLOB" then Blob
    else if has "REAL" || has "FLOA" || has "DOUB" then Float
    else Any

let core_type ~loc base nullable =
  let t =
    match base with
    | Int -> [%type: int]
    | Float -> [%type: float]
    | Text -> [%type: string]
    | Blob -> [%type: bytes]
    | Bool -> [%type: bool]
    | F32 -> [%type: Turso.Vector.F32.t]
    | F64 -> [%type: Turso.Vector.F64.t]
    | Any -> [%type: Turso.Value.t]
  in
  if nullable && base <> Any then [%type: [%t t] option] else t

let type_string ty = Format.asprintf "%a" Pprintast.core_type ty

let strip_poly ty = match ty.ptyp_desc with Ptyp_poly ([], t) -> t | _ -> ty

(* {1 Names} *)

let ocaml_keywords =
  [ "and"; "as"; "assert"; "begin"; "class"; "constraint"; "do"; "done"; "downto"; "else"; "end"; "exception";
    "external"; "false"; "for"; "fun"; "function"; "functor"; "if"; "in"; "include"; "inherit"; "initializer";
    "lazy"; "let"; "match"; "method"; "module"; "mutable"; "new"; "nonrec"; "object"; "of"; "open"; "or";
    "private"; "rec"; "sig"; "struct"; "then"; "to"; "true"; "try"; "type"; "val"; "virtual"; "when"; "while";
    "with" ]

let valid_name s =
  s <> ""
  && (match s.[0] with 'a' .. 'z' | '_' -> true | _ -> false)
  && String.for_all (function 'a' .. 'z' | 'A' .. 'Z' | '0' .. '9' | '_' | '\'' -> true | _ -> false) s
  && not (List.mem s ocaml_keywords)

(* {1 Parameters} *)

type param = {
  index : int;  (** from 1 *)
  label : string option;  (** the OCaml label of a named parameter *)
  sql_name : string;  (** ":id", or "?1" for a bare [?] *)
  ty : core_type;
}

let column_of (schema : schema) (a : Sql_scan.analysis) (c : Sql_scan.column_ref) =
  let find table = Hashtbl.find_opt schema.tables table in
  let in_table table =
    Option.bind (find table) (fun cols ->
        List.find_opt (fun col -> String.lowercase_ascii col.cname = String.lowercase_ascii c.column) cols)
  in
  match c.qualifier with
  | Some q -> Option.bind (List.assoc_opt (String.lowercase_ascii q) a.tables) in_table
  | None -> (
    let tables = List.sort_uniq compare (List.map snd a.tables) in
    match List.filter_map in_table tables with
    | [ col ] -> Some col
    | col :: rest when List.for_all (fun x -> base_of_decl x.ctype = base_of_decl col.ctype) rest -> Some col
    | _ -> None)

(* INTEGER PRIMARY KEY: the rowid, never NULL even without NOT NULL. *)
let rowid_alias ~primary_key decltype =
  primary_key && Option.map String.uppercase_ascii decltype = Some "INTEGER"

let nullable_column col = not (col.cnotnull || rowid_alias ~primary_key:col.cpk col.ctype)

let infer_param ~loc schema (a : Sql_scan.analysis) sql_name =
  let uses = List.filter_map (fun (n, u) -> if n = sql_name then Some u else None) a.uses in
  let typed = function
    | Sql_scan.Count -> Some [%type: int]
    | Compared c -> Option.map (fun col -> core_type ~loc (base_of_decl col.ctype) false) (column_of schema a c)
    | Stored c ->
      Option.map
        (fun col -> core_type ~loc (base_of_decl col.ctype) (nullable_column col))
        (column_of schema a c)
    | Positional_insert (table, pos) ->
      Option.bind (Hashtbl.find_opt schema.tables (String.lowercase_ascii table)) (fun cols ->
          Option.map
            (fun col -> core_type ~loc (base_of_decl col.ctype) (nullable_column col))
            (List.nth_opt cols pos))
  in
  match List.find_map typed uses with Some t -> t | None -> [%type: Turso.Value.t]

(* {1 The binding} *)

type annotations = {
  labelled : (string * (core_type option * location)) list;
  positional : (core_type option * location) list;
  result : core_type option;
  sql : string;
  sql_loc : location;
  lit : expression option;  (** the string literal *)
}

(* let%query f ~(a : int) (b : string) : res = "SQL" *)
let rec read_binding ~loc acc (e : expression) =
  let pat_type (p : pattern) =
    match p.ppat_desc with
    | Ppat_constraint (_, ty) -> Some (strip_poly ty)
    | Ppat_var _ | Ppat_any -> None
    | _ -> fail ~loc:p.ppat_loc "let%%query: a parameter is a name, or a name with its type: ~(id : int)"
  in
  match e.pexp_desc with
  | Pexp_fun (Labelled l, None, p, body) ->
    read_binding ~loc { acc with labelled = acc.labelled @ [ (l, (pat_type p, p.ppat_loc)) ] } body
  | Pexp_fun (Nolabel, None, p, body) ->
    read_binding ~loc { acc with positional = acc.positional @ [ (pat_type p, p.ppat_loc) ] } body
  | Pexp_fun (Optional _, _, p, _) ->
    fail ~loc:p.ppat_loc "let%%query: parameters are ~name or positional; an optional one (?x) has no meaning here"
  | Pexp_constraint (body, ty) -> read_binding ~loc { acc with result = Some (strip_poly ty) } body
  | Pexp_constant (Pconst_string (s, _, _)) -> { acc with sql = s; sql_loc = e.pexp_loc; lit = Some e }
  | _ -> fail ~loc:e.pexp_loc "let%%query: the query is a string literal: let%%query name = \"SELECT ...\""

(* The location of [needle] (a whole word) inside the query's string
   literal, when the literal's text is the string itself (a quoted string
   {|...|}, or "..." without escapes); else the literal's. *)
let loc_in_sql ~(lit : expression) needle =
  match lit.pexp_desc with
  | Pexp_constant (Pconst_string (s, _, delim)) -> (
    let plain = delim <> None || not (String.exists (fun c -> c = '\\' || c = '"' || c < ' ') s) in
    let n = String.length needle and m = String.length s in
    let word_char c = Sql_scan.is_ident_char c in
    let rec find i =
      if i + n > m then None
      else if String.sub s i n = needle && (i = 0 || not (word_char s.[i - 1])) && (i + n = m || not (word_char s.[i + n]))
      then Some i
      else find (i + 1)
    in
    match (plain, find 0) with
    | true, Some off ->
      let start = lit.pexp_loc.loc_start in
      let skip = match delim with None -> 1 | Some d -> 2 + String.length d in
      let pos = ref { start with pos_cnum = start.pos_cnum + skip } in
      for k = 0 to off - 1 do
        let p = !pos in
        pos := if s.[k] = '\n' then { p with pos_lnum = p.pos_lnum + 1; pos_cnum = p.pos_cnum + 1; pos_bol = p.pos_cnum + 1 }
          else { p with pos_cnum = p.pos_cnum + 1 }
      done;
      { loc_start = !pos; loc_end = { !pos with pos_cnum = !pos.pos_cnum + n }; loc_ghost = false }
    | _ -> lit.pexp_loc)
  | _ -> lit.pexp_loc

let sql_error ~loc (e : Turso.Error.t) =
  fail ~loc "let%%query: %s" e.Turso.Error.message

(* The decoder of one value: the fast inline match where the deriver has
   one, its converter otherwise. *)
let decode_value ~loc ty v conv =
  match Deriver.inline ~loc ty with Some f -> f v | None -> [%expr Turso.Decode.read [%e conv] [%e v]]

let expand_binding ~loc (schema : schema) (vb : value_binding) : structure =
  let name =
    match vb.pvb_pat.ppat_desc with
    | Ppat_var v -> v.txt
    | Ppat_constraint ({ ppat_desc = Ppat_var v; _ }, _) -> v.txt
    | _ -> fail ~loc:vb.pvb_pat.ppat_loc "let%%query: bind the query to a name"
  in
  let a0 = { labelled = []; positional = []; result = None; sql = ""; sql_loc = loc; lit = None } in
  let a0 =
    match vb.pvb_pat.ppat_desc with
    | Ppat_constraint (_, ty) -> { a0 with result = Some (strip_poly ty) }
    | _ -> a0
  in
  let ann = read_binding ~loc a0 vb.pvb_expr in
  let sql = ann.sql and sloc = ann.sql_loc in
  let shape = match Turso.Conn.describe schema.conn sql with Ok s -> s | Error e -> sql_error ~loc:sloc e in
  let analysis = Sql_scan.analyse ~is_table:(fun t -> Hashtbl.mem schema.tables (String.lowercase_ascii t)) sql in
  (* Parameters, by index. *)
  let params =
    Array.to_list
      (Array.mapi
         (fun i (p : string option) ->
           let index = i + 1 in
           match p with
           | None | Some "" -> { index; label = None; sql_name = "?" ^ string_of_int index; ty = [%type: unit] }
           | Some n when n.[0] = '?' -> { index; label = None; sql_name = n; ty = [%type: unit] }
           | Some n ->
             let l = String.sub n 1 (String.length n - 1) in
             if not (valid_name l) then
               fail ~loc:sloc "let%%query: parameter %s: %s is not an OCaml label (name it in lowercase, not a keyword)" n l;
             { index; label = Some l; sql_name = n; ty = [%type: unit] })
         shape.parameters)
  in
  let positional = List.filter (fun p -> p.label = None) params in
  if positional <> [] && List.length positional <> List.length params then
    fail ~loc:sloc "let%%query: the query mixes ? and named parameters: use one kind";
  if ann.positional <> [] && List.length ann.positional <> List.length positional then
    fail ~loc:(snd (List.hd ann.positional)) "let%%query: %d positional parameter(s) annotated, the query has %d"
      (List.length ann.positional) (List.length positional);
  List.iter
    (fun (l, (_, ploc)) ->
      if not (List.exists (fun p -> p.label = Some l) params) then
        fail ~loc:ploc "let%%query: the query has no parameter :%s (it has %s)" l
          (match List.filter_map (fun p -> Option.map (fun _ -> p.sql_name) p.label) params with
           | [] -> "no named parameter"
           | ns -> String.concat ", " ns))
    ann.labelled;
  let params =
    let pos = ref ann.positional in
    List.map
      (fun p ->
        let annotated =
          match p.label with
          | Some l -> Option.bind (List.assoc_opt l ann.labelled) fst
          | None -> (match !pos with (t, _) :: rest -> pos := rest; t | [] -> None)
        in
        let ty = match annotated with Some t -> t | None -> infer_param ~loc schema analysis p.sql_name in
        { p with ty })
      params
  in
  (* Result columns. *)
  let columns = Array.to_list shape.columns in
  let col_type (c : Turso.Shape.column) =
    let base = base_of_decl c.decltype in
    let nullable =
      analysis.outer_join || c.origin = None
      || (match c.table with Some t -> List.mem (String.lowercase_ascii t) analysis.nullable_tables | None -> false)
      || not (c.not_null || rowid_alias ~primary_key:c.primary_key c.decltype)
    in
    core_type ~loc base nullable
  in
  let inferred = List.map col_type columns in
  let is_any ty = type_string ty = "Turso.Value.t" in
  let check_col i (c : Turso.Shape.column) inferred annotated =
    if not (is_any inferred || type_string inferred = type_string annotated) then
      fail ~loc:annotated.ptyp_loc "let%%query: column %d (%s): the schema gives %s%s, the annotation says %s" (i + 1) c.name
        (type_string inferred)
        (match c.decltype with Some d -> Printf.sprintf " (%s%s)" d (if c.not_null then " NOT NULL" else ", nullable") | None -> "")
        (type_string annotated)
  in
  let builtin ty =
    match ty.ptyp_desc with
    | Ptyp_constr ({ txt = Lident ("int" | "int32" | "int64" | "float" | "bool" | "string" | "bytes" | "option"); _ }, _) -> true
    | Ptyp_constr ({ txt = Ldot (Ldot (Lident "Turso", ("Value" | "Vector")), _) | Ldot (Ldot (Ldot (Lident "Turso", "Vector"), _), _); _ }, _) -> true
    | _ -> false
  in
  let field_name (c : Turso.Shape.column) =
    if not (valid_name c.name) then
      fail ~loc:sloc "let%%query: column %S is not an OCaml field name: name it with AS (a lowercase name, not a keyword)" c.name;
    c.name
  in
  let ncols = List.length columns in
  (* What the row becomes: `Unit, `One ty, `Tuple tys, `Record (type, fields, tys) *)
  let result, types =
    match ann.result with
    | None ->
      if ncols = 0 then (`Unit, []) else if ncols = 1 then (`Value, inferred) else (`Record (None, List.map field_name columns), inferred)
    | Some ty -> (
      match ty.ptyp_desc with
      | Ptyp_tuple tys ->
        if List.length tys <> ncols then
          fail ~loc:ty.ptyp_loc "let%%query: the annotation has %d components, the query returns %d column(s)" (List.length tys) ncols;
        List.iteri (fun i (c, (inf, ann)) -> check_col i c inf ann) (List.combine columns (List.combine inferred tys));
        (`Tuple, List.map2 (fun inf ann -> if is_any inf then ann else inf) inferred tys)
      | Ptyp_constr ({ txt = Lident "unit"; _ }, []) when ncols = 0 -> (`Unit, [])
      | _ when ncols = 1 && builtin ty ->
        check_col 0 (List.hd columns) (List.hd inferred) ty;
        (`Value, [ (if is_any (List.hd inferred) then ty else List.hd inferred) ])
      | _ when ncols >= 1 -> (`Record (Some ty, List.map field_name columns), inferred)
      | _ -> fail ~loc:ty.ptyp_loc "let%%query: the query returns no rows; its result type is unit")
  in
  let row_type =
    match result with
    | `Unit -> [%type: unit]
    | `Value -> List.hd types
    | `Tuple -> B.ptyp_tuple ~loc types
    | `Record (Some ty, _) -> ty
    | `Record (None, _) -> B.ptyp_constr ~loc { loc; txt = Lident name } []
  in
  (* The decoder. *)
  let n = List.length types in
  let codecs = List.map (fun ty -> Deriver.codec ~loc ty) types in
  let conv i = B.evar ~loc ("conv_" ^ string_of_int i) in
  let var i = "c" ^ string_of_int i in
  let value =
    match result with
    | `Unit -> [%expr ()]
    | `Value -> B.evar ~loc (var 0)
    | `Tuple -> B.pexp_tuple ~loc (List.init n (fun i -> B.evar ~loc (var i)))
    | `Record (None, fields) ->
      B.pexp_record ~loc (List.mapi (fun i f -> ({ loc; txt = Lident f }, B.evar ~loc (var i))) fields) None
    | `Record (Some _, fields) ->
      (* The user's record: each field typed as the schema says, located at
         the column in the SQL, so that a field of another type is an
         error there. *)
      B.pexp_record ~loc
        (List.mapi
           (fun i f ->
             let floc = match ann.lit with Some lit -> loc_in_sql ~lit f | None -> sloc in
             ({ loc = floc; txt = Lident f }, B.pexp_constraint ~loc:floc (B.evar ~loc:floc (var i)) (List.nth types i)))
           fields)
        None
  in
  let body =
    List.fold_right
      (fun (i, ty) acc ->
        [%expr
          let [%p B.pvar ~loc (var i)] =
            [%e decode_value ~loc ty [%expr Array.unsafe_get vs [%e B.eint ~loc i]] (conv i)]
          in
          [%e acc]])
      (List.mapi (fun i t -> (i, t)) types)
      [%expr ([%e value] : [%t row_type])]
  in
  let decode =
    if n = 0 then [%expr fun (_ : Turso.Row.t) : (unit, Turso.Error.t) result -> Ok ()]
    else
      let checks = B.pexp_array ~loc (List.init n (fun i -> [%expr Turso.Decode.check [%e conv i]])) in
      [%expr
        fun (row : Turso.Row.t) : ([%t row_type], Turso.Error.t) result ->
          let vs = Turso.Row.unsafe_values row in
          match
            if Array.length vs <> [%e B.eint ~loc n] then raise_notrace Turso.Decode.Mismatch;
            [%e body]
          with
          | v -> Ok v
          | exception Turso.Decode.Mismatch -> Error (Turso.Decode.diagnose_at row [%e checks])]
  in
  let decode =
    List.fold_right
      (fun (i, (dec, _)) acc -> [%expr let [%p B.pvar ~loc ("conv_" ^ string_of_int i)] = [%e dec] in [%e acc]])
      (List.mapi (fun i c -> (i, c)) codecs)
      decode
  in
  (* The function of the parameters. *)
  let arg p = match p.label with Some l -> l | None -> "p" ^ string_of_int p.index in
  (* An option is matched inline: [Encode.option enc] would build a
     closure on every call. *)
  let rec encode ty v =
    match ty.ptyp_desc with
    | Ptyp_constr ({ txt = Lident "option" | Ldot (Lident "Option", "t"); _ }, [ inner ])
      when Option.is_none (Attribute.get Deriver.attr_to_value_ct ty) ->
      [%expr match [%e v] with None -> Turso.Value.Null | Some x -> [%e encode inner [%expr x]]]
    | _ -> let _, enc = Deriver.codec ~loc ty in [%expr [%e enc] [%e v]]
  in
  let values = List.map (fun p -> encode p.ty (B.evar ~loc (arg p))) params in
  (* Named parameters with their names in index order (Turso.Query binds
     them by position where the engine allows, by name on a server); [?]
     ones by position. *)
  let named = params <> [] && List.for_all (fun p -> p.label <> None) params in
  let make =
    if params = [] then [%expr Turso.Query.make ~sql:[%e B.estring ~loc sql] decode]
    else if named then [%expr Turso.Query.in_order ~sql:[%e B.estring ~loc sql] names [%e B.elist ~loc values] decode]
    else [%expr Turso.Query.make ~sql:[%e B.estring ~loc sql] ~params:(`Positional [%e B.elist ~loc values]) decode]
  in
  let fn =
    List.fold_right
      (fun p acc ->
        let pat = B.ppat_constraint ~loc (B.pvar ~loc (arg p)) p.ty in
        B.pexp_fun ~loc (match p.label with Some l -> Labelled l | None -> Nolabel) None pat acc)
      params make
  in
  (* the names array is built once, with the decoder *)
  let fn =
    if named then
      [%expr let names = [%e B.pexp_array ~loc (List.map (fun p -> B.estring ~loc p.sql_name) params)] in [%e fn]]
    else fn
  in
  let value = [%stri let [%p B.pvar ~loc name] = let decode = [%e decode] in [%e fn]] in
  match result with
  | `Record (None, fields) ->
    let labels =
      List.map2
        (fun f ty -> B.label_declaration ~loc ~name:{ loc; txt = f } ~mutable_:Immutable ~type_:ty)
        fields types
    in
    let dup = List.find_opt (fun f -> List.length (List.filter (( = ) f) fields) > 1) fields in
    Option.iter (fun f -> fail ~loc:sloc "let%%query: two columns are named %s: name them apart with AS" f) dup;
    let td =
      B.type_declaration ~loc ~name:{ loc; txt = name } ~params:[] ~cstrs:[] ~kind:(Ptype_record labels)
        ~private_:Public ~manifest:None
    in
    [ B.pstr_type ~loc Recursive [ td ]; value ]
  | _ -> [ value ]

let query_ext =
  Extension.V3.declare_inline "turso.query" Extension.Context.structure_item
    Ast_pattern.(pstr (pstr_value __ __ ^:: nil))
    (fun ~ctxt _rec vbs ->
      let loc = Expansion_context.Extension.extension_point_loc ctxt in
      match !current with
      | None ->
        fail ~loc
          "let%%query needs the schema: put [%%%%migrations \"DIR\"] before it (DIR, relative to this file, holds \
           the NNNN_name.sql migrations; declare it to dune: (preprocessor_deps (source_tree DIR)))"
      | Some schema -> List.concat_map (expand_binding ~loc schema) vbs)

(* [%%migrations "DIR"] (the schema for the queries after it) and
   [%migrations "DIR"] (the same, and the migrations themselves as a
   Turso.Migration.t list, embedded: the program applies exactly those its
   queries were checked against, without reading DIR at run time). *)
let use_migrations ~loc dir =
  let base = Filename.dirname loc.loc_start.pos_fname in
  let dir = if Filename.is_relative dir then Filename.concat base dir else dir in
  let schema = load ~loc dir in
  current := Some schema;
  schema

let migrations_ext =
  Extension.V3.declare_inline "turso.migrations" Extension.Context.structure_item
    Ast_pattern.(pstr (pstr_eval (estring __) nil ^:: nil))
    (fun ~ctxt dir ->
      ignore (use_migrations ~loc:(Expansion_context.Extension.extension_point_loc ctxt) dir);
      [])

let migrations_expr_ext =
  Extension.V3.declare "turso.migrations" Extension.Context.expression
    Ast_pattern.(pstr (pstr_eval (estring __) nil ^:: nil))
    (fun ~ctxt dir ->
      let loc = Expansion_context.Extension.extension_point_loc ctxt in
      let schema = use_migrations ~loc dir in
      B.elist ~loc
        (List.map
           (fun (m : Turso.Migration.t) ->
             [%expr
               Turso.Migration.make ~version:[%e B.eint ~loc m.version] ~name:[%e B.estring ~loc m.name]
                 [%e B.estring ~loc m.sql]])
           schema.migrations))

let () =
  Driver.register_transformation "turso.checked"
    ~rules:
      [ Context_free.Rule.extension query_ext; Context_free.Rule.extension migrations_ext;
        Context_free.Rule.extension migrations_expr_ext ]
