(* [@@deriving turso]: typed row decoders and parameter encoders.

   For a record type [t] (or [foo]) it generates
     val of_row     : Turso.Row.t -> (t, Turso.Error.t) result   (by column name)
     val to_params  : t -> Turso.params                           (`Named, one per field)
     val columns    : string list                                 (column names, in order)
     val to_values  : t -> Turso.Value.t list                     (the fields, in order)
   ([foo_of_row], [foo_to_params], [foo_columns], [foo_to_values] for [foo]);
   for a tuple type, [of_row] (by position), [to_params] (`Positional) and
   [to_values]. [to_values] is what Stmt.execute_many takes, row by row.

   Field types: int, int32, int64, float, bool, string, bytes, Turso.Value.t
   (or Value.t), an option of any of them, and M.t through M.of_value /
   M.to_value (or the attributes
   [@turso.of_value f] [@turso.to_value g]). Field attributes:
   [@turso.column "name"] and [@turso.default expr]. Any other attribute
   named turso.* is a compile error (a misspelt one would otherwise be
   silently ignored). *)

open Ppxlib
module B = Ast_builder.Default

let deriver = "turso"

let attr_column =
  Attribute.declare "turso.column" Attribute.Context.label_declaration
    Ast_pattern.(single_expr_payload (estring __))
    Fun.id

(* An attribute whose payload is an expression. *)
let expr_attr ctx name = Attribute.declare name ctx Ast_pattern.(single_expr_payload __) Fun.id
let attr_default = expr_attr Attribute.Context.label_declaration "turso.default"
let attr_of_value_ld = expr_attr Attribute.Context.label_declaration "turso.of_value"
let attr_to_value_ld = expr_attr Attribute.Context.label_declaration "turso.to_value"
let attr_of_value_ct = expr_attr Attribute.Context.core_type "turso.of_value"
let attr_to_value_ct = expr_attr Attribute.Context.core_type "turso.to_value"

(* The attributes this deriver reads, where it reads them; any other
   [@turso.*] attribute is refused, so that a misspelling is not ignored. *)
let field_attributes = [ "turso.column"; "turso.default"; "turso.of_value"; "turso.to_value" ]
let type_attributes = [ "turso.of_value"; "turso.to_value" ]

let check_attributes known (attrs : attributes) =
  List.iter
    (fun (a : attribute) ->
      let name = a.attr_name.txt in
      if String.length name > 6 && String.sub name 0 6 = "turso." && not (List.mem name known) then
        Location.raise_errorf ~loc:a.attr_name.loc
          "[@@@@deriving turso]: unknown attribute [@%s]; the attributes are [@turso.column \"name\"], \
           [@turso.default expr], [@turso.of_value f] and [@turso.to_value g]"
          name)
    attrs

(* The field's own attributes and those of its type, at any depth. *)
let rec check_type_attributes (ty : core_type) =
  check_attributes type_attributes ty.ptyp_attributes;
  match ty.ptyp_desc with
  | Ptyp_constr (_, args) | Ptyp_tuple args -> List.iter check_type_attributes args
  | Ptyp_arrow (_, a, b) -> check_type_attributes a; check_type_attributes b
  | _ -> ()

let check_field (ld : label_declaration) =
  check_attributes field_attributes ld.pld_attributes;
  check_type_attributes ld.pld_type

let supported =
  "supported field types: int, int32, int64, float, bool, string, bytes, Turso.Value.t, an \
   option of one of these, or M.t with M.of_value : Turso.Value.t -> (M.t, string) result and \
   M.to_value : M.t -> Turso.Value.t (or name the functions with [@turso.of_value f] and \
   [@turso.to_value g])"

let unsupported ~loc ty =
  (* a float array is most likely meant as a libSQL vector *)
  let hint =
    match ty.ptyp_desc with
    | Ptyp_constr ({ txt = Lident "array"; _ }, [ { ptyp_desc = Ptyp_constr ({ txt = Lident "float"; _ }, []); _ } ]) ->
      " (for a libSQL vector, F32_BLOB or F64_BLOB, write Turso.Vector.F32.t or Turso.Vector.F64.t)"
    | _ -> ""
  in
  Location.raise_errorf ~loc "[@@@@deriving turso]: unsupported type %s%s; %s"
    (Format.asprintf "%a" Pprintast.core_type ty) hint supported

let runtime ~loc m name = B.pexp_ident ~loc { loc; txt = Ldot (Ldot (Lident "Turso", m), name) }

(* The converter (Decode) and encoder (Encode) for a type. [of_value] and
   [to_value] come from attributes on the field, if any. *)
let rec codec ~loc ?of_value ?to_value (ty : core_type) =
  let of_value =
    match of_value with Some e -> Some e | None -> Attribute.get attr_of_value_ct ty
  in
  let to_value =
    match to_value with Some e -> Some e | None -> Attribute.get attr_to_value_ct ty
  in
  match (of_value, to_value) with
  | Some f, Some g ->
    let expected = B.estring ~loc (Format.asprintf "%a" Pprintast.core_type ty) in
    ([%expr Turso.Decode.custom ~expected:[%e expected] [%e f]], g)
  | Some _, None | None, Some _ ->
    Location.raise_errorf ~loc:ty.ptyp_loc
      "[@@@@deriving turso]: give both [@turso.of_value] and [@turso.to_value], or neither"
  | None, None -> (
    match ty.ptyp_desc with
    | Ptyp_constr ({ txt = Lident (("int" | "int32" | "int64" | "float" | "bool" | "string" | "bytes") as n); _ }, []) ->
      (runtime ~loc "Decode" n, runtime ~loc "Encode" n)
    | Ptyp_constr ({ txt = Lident "option" | Ldot (Lident "Option", "t"); _ }, [ inner ]) ->
      let d, e = codec ~loc inner in
      ([%expr Turso.Decode.option [%e d]], [%expr Turso.Encode.option [%e e]])
    | Ptyp_constr ({ txt = Ldot (Ldot (Lident "Turso", "Value"), "t") | Ldot (Lident "Value", "t"); _ }, [])
      ->
      (runtime ~loc "Decode" "value", runtime ~loc "Encode" "value")
    | Ptyp_constr ({ txt = Ldot (m, "t"); _ }, []) ->
      let fn name = B.pexp_ident ~loc { loc; txt = Ldot (m, name) } in
      let expected = B.estring ~loc (Longident.name m) in
      ([%expr Turso.Decode.custom ~expected:[%e expected] [%e fn "of_value"]], fn "to_value")
    | _ -> unsupported ~loc:ty.ptyp_loc ty)

(* The fast path of a decoder: for the built-in types, a pattern match on
   the value, inline, as one would write by hand (raising
   [Turso.Decode.Mismatch] on anything else); [None] for user converters,
   which are called through their [conv]. *)
let rec inline ~loc ?of_value (ty : core_type) : (expression -> expression) option =
  let custom = Option.is_some of_value || Option.is_some (Attribute.get attr_of_value_ct ty) in
  let fail = [%expr raise_notrace Turso.Decode.Mismatch] in
  let m cases v = B.pexp_match ~loc v (cases @ [ B.case ~lhs:[%pat? _] ~guard:None ~rhs:fail ]) in
  if custom then None
  else
    match ty.ptyp_desc with
    | Ptyp_constr ({ txt = Lident "int64"; _ }, []) ->
      Some (m [ B.case ~lhs:[%pat? Turso.Value.Integer i] ~guard:None ~rhs:[%expr i] ])
    | Ptyp_constr ({ txt = Lident "int"; _ }, []) ->
      Some (m [ B.case ~lhs:[%pat? Turso.Value.Integer i] ~guard:None ~rhs:[%expr Turso.Decode.to_int i] ])
    | Ptyp_constr ({ txt = Lident "int32"; _ }, []) ->
      Some (m [ B.case ~lhs:[%pat? Turso.Value.Integer i] ~guard:None ~rhs:[%expr Turso.Decode.to_int32 i] ])
    | Ptyp_constr ({ txt = Lident "float"; _ }, []) ->
      Some
        (m
           [ B.case ~lhs:[%pat? Turso.Value.Real f] ~guard:None ~rhs:[%expr f];
             B.case ~lhs:[%pat? Turso.Value.Integer i] ~guard:None ~rhs:[%expr Int64.to_float i] ])
    | Ptyp_constr ({ txt = Lident "bool"; _ }, []) ->
      Some
        (m
           [ B.case ~lhs:[%pat? Turso.Value.Integer 0L] ~guard:None ~rhs:[%expr false];
             B.case ~lhs:[%pat? Turso.Value.Integer 1L] ~guard:None ~rhs:[%expr true] ])
    | Ptyp_constr ({ txt = Lident "string"; _ }, []) ->
      Some (m [ B.case ~lhs:[%pat? Turso.Value.Text s] ~guard:None ~rhs:[%expr s] ])
    | Ptyp_constr ({ txt = Lident "bytes"; _ }, []) ->
      Some (m [ B.case ~lhs:[%pat? Turso.Value.Blob s] ~guard:None ~rhs:[%expr Bytes.of_string s] ])
    | Ptyp_constr ({ txt = Ldot (Ldot (Lident "Turso", "Value"), "t") | Ldot (Lident "Value", "t"); _ }, []) ->
      Some (fun v -> v)
    | Ptyp_constr ({ txt = Lident "option" | Ldot (Lident "Option", "t"); _ }, [ inner_ty ]) -> (
      match inline ~loc inner_ty with
      | None -> None
      | Some inner ->
        Some
          (fun v ->
            B.pexp_match ~loc v
              [ B.case ~lhs:[%pat? Turso.Value.Null] ~guard:None ~rhs:[%expr None];
                B.case ~lhs:[%pat? v] ~guard:None ~rhs:[%expr Some [%e inner [%expr v]]] ]))
    | _ -> None

let name_for tname suffix = if tname = "t" then suffix else tname ^ "_" ^ suffix

let record_str ~loc tname (fields : label_declaration list) =
  List.iter check_field fields;
  let tyname = B.ptyp_constr ~loc { loc; txt = Lident tname } [] in
  let columns =
    List.map
      (fun (ld : label_declaration) ->
        match Attribute.get attr_column ld with Some c -> c | None -> ld.pld_name.txt)
      fields
  in
  let codecs =
    List.map
      (fun (ld : label_declaration) ->
        codec ~loc:ld.pld_loc ?of_value:(Attribute.get attr_of_value_ld ld)
          ?to_value:(Attribute.get attr_to_value_ld ld) ld.pld_type)
      fields
  in
  let cols_array = B.pexp_array ~loc (List.map (B.estring ~loc) columns) in
  let var ld = "f_" ^ ld.pld_name.txt in
  let record =
    B.pexp_record ~loc
      (List.map
         (fun ld -> ({ loc; txt = Lident ld.pld_name.txt }, B.evar ~loc (var ld)))
         fields)
      None
  in
  (* Converters are built once, outside the per-row function. *)
  let conv_var k = "conv_" ^ string_of_int k in
  let body =
    List.fold_right
      (fun (k, ((ld : label_declaration), _)) acc ->
        let kk = B.eint ~loc k in
        let dec = B.evar ~loc (conv_var k) in
        let fast = inline ~loc ?of_value:(Attribute.get attr_of_value_ld ld) ld.pld_type in
        let value = [%expr Turso.Decode.value_at row idx [%e kk]] in
        let decode =
          match fast with Some f -> f value | None -> [%expr Turso.Decode.read [%e dec] [%e value]]
        in
        let read =
          match Attribute.get attr_default ld with
          | Some d -> [%expr if Turso.Decode.present idx [%e kk] then [%e decode] else [%e d]]
          | None -> decode
        in
        [%expr
          let [%p B.pvar ~loc (var ld)] = [%e read] in
          [%e acc]])
      (List.mapi (fun k x -> (k, x)) (List.combine fields codecs))
      record
  in
  let of_row =
    [%expr
      fun (row : Turso.Row.t) : ([%t tyname], Turso.Error.t) result ->
        let idx = Turso.Decode.resolve layout row in
        match [%e body] with
        | v -> Ok v
        | exception Turso.Decode.Mismatch -> Error (Turso.Decode.diagnose layout row idx)]
  in
  let checks =
    B.pexp_array ~loc (List.mapi (fun k _ -> [%expr Turso.Decode.check [%e B.evar ~loc (conv_var k)]]) fields)
  in
  let defaults =
    B.pexp_array ~loc
      (List.map (fun ld -> B.ebool ~loc (Option.is_some (Attribute.get attr_default ld))) fields)
  in
  let of_row =
    List.fold_right
      (fun (k, (dec, _)) acc -> [%expr let [%p B.pvar ~loc (conv_var k)] = [%e dec] in [%e acc]])
      (List.mapi (fun k c -> (k, c)) codecs)
      [%expr
        let layout = Turso.Decode.layout [%e cols_array] [%e checks] [%e defaults] in
        [%e of_row]]
  in
  let to_params =
    let items =
      List.map2
        (fun (ld : label_declaration) (col, (_, enc)) ->
          let get = B.pexp_field ~loc [%expr x] { loc; txt = Lident ld.pld_name.txt } in
          [%expr [%e B.estring ~loc col], [%e enc] [%e get]])
        fields
        (List.combine columns codecs)
    in
    [%expr fun (x : [%t tyname]) : Turso.params -> `Named [%e B.elist ~loc items]]
  in
  let to_values =
    let items =
      List.map2
        (fun (ld : label_declaration) (_, enc) ->
          [%expr [%e enc] [%e B.pexp_field ~loc [%expr x] { loc; txt = Lident ld.pld_name.txt }]])
        fields codecs
    in
    [%expr fun (x : [%t tyname]) : Turso.Value.t list -> [%e B.elist ~loc items]]
  in
  [ [%stri let [%p B.pvar ~loc (name_for tname "columns")] = [%e B.elist ~loc (List.map (B.estring ~loc) columns)]];
    [%stri let [%p B.pvar ~loc (name_for tname "of_row")] = [%e of_row]];
    [%stri let [%p B.pvar ~loc (name_for tname "to_params")] = [%e to_params]];
    [%stri let [%p B.pvar ~loc (name_for tname "to_values")] = [%e to_values]] ]

let tuple_str ~loc tname (tys : core_type list) =
  List.iter check_type_attributes tys;
  let tyname = B.ptyp_constr ~loc { loc; txt = Lident tname } [] in
  let codecs = List.map (fun ty -> codec ~loc:ty.ptyp_loc ty) tys in
  let vars = List.mapi (fun i _ -> "c" ^ string_of_int i) tys in
  let tuple = B.pexp_tuple ~loc (List.map (B.evar ~loc) vars) in
  let conv_var i = "conv_" ^ string_of_int i in
  let body =
    List.fold_right
      (fun (i, v) acc ->
        [%expr
          let [%p B.pvar ~loc v] =
            Turso.Decode.at row [%e B.eint ~loc i] [%e B.evar ~loc (conv_var i)]
          in
          [%e acc]])
      (List.mapi (fun i v -> (i, v)) vars)
      tuple
  in
  let of_row =
    [%expr
      fun (row : Turso.Row.t) : ([%t tyname], Turso.Error.t) result ->
        match [%e body] with
        | v -> Ok v
        | exception Turso.Decode.Mismatch ->
          Error
            (Turso.Decode.diagnose_at row
               [%e B.pexp_array ~loc (List.mapi (fun i _ -> [%expr Turso.Decode.check [%e B.evar ~loc (conv_var i)]]) vars)])]
  in
  let of_row =
    List.fold_right
      (fun (i, (dec, _)) acc -> [%expr let [%p B.pvar ~loc (conv_var i)] = [%e dec] in [%e acc]])
      (List.mapi (fun i c -> (i, c)) codecs)
      of_row
  in
  let to_params =
    let pat = B.ppat_tuple ~loc (List.map (B.pvar ~loc) vars) in
    let items = List.map2 (fun v (_, enc) -> [%expr [%e enc] [%e B.evar ~loc v]]) vars codecs in
    [%expr fun ([%p pat] : [%t tyname]) : Turso.params -> `Positional [%e B.elist ~loc items]]
  in
  let to_values =
    let pat = B.ppat_tuple ~loc (List.map (B.pvar ~loc) vars) in
    let items = List.map2 (fun v (_, enc) -> [%expr [%e enc] [%e B.evar ~loc v]]) vars codecs in
    [%expr fun ([%p pat] : [%t tyname]) : Turso.Value.t list -> [%e B.elist ~loc items]]
  in
  [ [%stri let [%p B.pvar ~loc (name_for tname "of_row")] = [%e of_row]];
    [%stri let [%p B.pvar ~loc (name_for tname "to_params")] = [%e to_params]];
    [%stri let [%p B.pvar ~loc (name_for tname "to_values")] = [%e to_values]] ]

let not_supported_decl ~loc =
  Location.raise_errorf ~loc
    "[@@@@deriving turso] works on a record type or a tuple type (without type parameters)"

let str_type_decl ~ctxt (_rec_flag, decls) =
  let loc = Expansion_context.Deriver.derived_item_loc ctxt in
  List.concat_map
    (fun (td : type_declaration) ->
      if td.ptype_params <> [] then not_supported_decl ~loc:td.ptype_loc;
      let tname = td.ptype_name.txt in
      match (td.ptype_kind, td.ptype_manifest) with
      | Ptype_record fields, _ -> record_str ~loc tname fields
      | Ptype_abstract, Some { ptyp_desc = Ptyp_tuple tys; _ } -> tuple_str ~loc tname tys
      | _ -> not_supported_decl ~loc:td.ptype_loc)
    decls

let sig_type_decl ~ctxt (_rec_flag, decls) =
  let loc = Expansion_context.Deriver.derived_item_loc ctxt in
  List.concat_map
    (fun (td : type_declaration) ->
      let tname = td.ptype_name.txt in
      let ty = B.ptyp_constr ~loc { loc; txt = Lident tname } [] in
      let v name t = B.psig_value ~loc (B.value_description ~loc ~name:{ loc; txt = name_for tname name } ~type_:t ~prim:[]) in
      let of_row = v "of_row" [%type: Turso.Row.t -> ([%t ty], Turso.Error.t) result] in
      let to_params = v "to_params" [%type: [%t ty] -> Turso.params] in
      let to_values = v "to_values" [%type: [%t ty] -> Turso.Value.t list] in
      match (td.ptype_kind, td.ptype_manifest) with
      | Ptype_record _, _ -> [ v "columns" [%type: string list]; of_row; to_params; to_values ]
      | Ptype_abstract, Some { ptyp_desc = Ptyp_tuple _; _ } -> [ of_row; to_params; to_values ]
      | _ -> not_supported_decl ~loc:td.ptype_loc)
    decls

let () =
  let str_type_decl = Deriving.Generator.V2.make_noarg str_type_decl in
  let sig_type_decl = Deriving.Generator.V2.make_noarg sig_type_decl in
  ignore (Deriving.add deriver ~str_type_decl ~sig_type_decl)
