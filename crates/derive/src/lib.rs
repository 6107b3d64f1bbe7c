//! `#[derive(Wire)]`: implements `tickroom::wire::Wire` for a struct, so a
//! game's component, input or event says its schema fields and writes and
//! reads its value slots without hand-written code that could drift from
//! its Rust fields.
//!
//! The generated impl only spells out, field by field and in declaration
//! order, calls into `tickroom::wire` (`WireField` by default, `FixedPoint`,
//! `text_type`/`write_text`/`read_text`); the wire rules live there.
//!
//! ```ignore
//! use tickroom::wire::Wire;
//!
//! #[derive(Wire)]
//! #[wire(name = "ship")] // schema name; default: the type in snake_case (`player_ship`)
//! struct PlayerShip {
//!     hp: u8,                   // WireField's type: Scalar(U8)
//!     target: Option<Entity>,   // an entity's network id, 0 for none
//!     #[wire(fixed(i32, 100))]  // f32/f64 as round(x * 100) in an i32, saturated
//!     x: f32,
//!     #[wire(text(16))]         // a String of at most 16 bytes (default 64)
//!     callsign: String,
//!     #[wire(rename = "team")]  // the schema field name (default: the Rust name)
//!     team_id: u16,
//!     #[wire(skip)]             // not on the wire; read gives Default::default()
//!     cache: Vec<u32>,
//! }
//! ```
//!
//! Type attributes: `name = "..."` and `crate = "path"` (where the `wire`
//! and `protocol` modules are; default `::tickroom`). Field attributes: at
//! most one of `fixed(REPR, SCALE)` (REPR one of `u8`..`u64`, `i8`..`i64`;
//! SCALE an integer 1..=u32::MAX), `text(N)` (N in 1..=1024) and `skip`,
//! plus `rename = "..."` (not with `skip`). Supported: structs with named
//! fields and unit structs, without generic parameters.

use std::collections::HashSet;

use heck::ToSnakeCase;
use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Fields, Ident, LitInt, LitStr, Path, Token};

/// Longest schema name (`tickroom_protocol::state::schema::MAX_NAME_BYTES`).
const MAX_NAME_BYTES: usize = 64;
/// Largest text bound (`tickroom_protocol::state::schema::MAX_TEXT_BYTES`).
const MAX_TEXT_BYTES: u16 = 1024;

/// Implements `Wire` for a struct with named fields or a unit struct; see
/// the crate docs for the `#[wire(...)]` attributes.
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// Type-level `#[wire(...)]` options.
#[derive(Default)]
struct TypeOpts {
    name: Option<String>,
    krate: Option<Path>,
}

/// How one field is on the wire.
enum Kind {
    /// Through its `WireField` impl.
    Default,
    /// `fixed(REPR, SCALE)`: REPR is a `Scalar` variant name.
    Fixed { repr: Ident, scale: u32 },
    /// `text(N)`.
    Text(u16),
    /// `skip`.
    Skip,
}

/// Field-level `#[wire(...)]` options.
struct FieldOpts {
    kind: Kind,
    rename: Option<(String, Span)>,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(unnamed) => {
                return Err(Error::new_spanned(
                    unnamed,
                    "#[derive(Wire)] does not support tuple structs: name the fields \
                     (their names are the schema's field names)",
                ));
            }
        },
        Data::Enum(e) => {
            return Err(Error::new(
                e.enum_token.span,
                "#[derive(Wire)] supports structs with named fields or unit structs; \
                 an enum has no fixed list of fields (use a struct, e.g. with a u8 kind field)",
            ));
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "#[derive(Wire)] supports structs with named fields or unit structs, not unions",
            ));
        }
    };
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "#[derive(Wire)] does not support generics (lifetime, type or const parameters): \
             a Wire type is one concrete 'static type with one schema",
        ));
    }

    let opts = type_opts(&input.attrs)?;
    let krate = opts.krate.unwrap_or_else(|| syn::parse_quote!(::tickroom));
    let type_name = opts
        .name
        .unwrap_or_else(|| input.ident.unraw().to_string().to_snake_case());

    let mut errors: Option<Error> = None;
    let mut push_err = |e: Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let mut seen = HashSet::new();
    let mut schema_fields = Vec::new();
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    // The parameters: `__` so an item of the caller's (a `const map`, say)
    // cannot turn them into patterns, and so a body that does not use one
    // (a unit struct, only skipped fields) does not warn.
    let map = Ident::new("__map", Span::mixed_site());
    let out = Ident::new("__out", Span::mixed_site());
    let values = Ident::new("__values", Span::mixed_site());

    for field in fields {
        let fopts = match field_opts(&field.attrs) {
            Ok(o) => o,
            Err(e) => {
                push_err(e);
                continue;
            }
        };
        // Named fields always have an ident.
        let Some(member) = &field.ident else { continue };
        let ty = &field.ty;
        let ty_span = ty.span();
        if let Kind::Skip = fopts.kind {
            reads.push(quote! { #member: ::core::default::Default::default() });
            continue;
        }
        let (name, name_span) = fopts
            .rename
            .unwrap_or_else(|| (member.unraw().to_string(), member.span()));
        if !seen.insert(name.clone()) {
            push_err(Error::new(
                name_span,
                format!(
                    "two fields of this type are called `{name}` on the wire; \
                     rename one with #[wire(rename = \"...\")]"
                ),
            ));
            continue;
        }
        let name_lit = LitStr::new(&name, Span::call_site());
        let at = LitStr::new(&format!("{type_name}.{name}"), Span::call_site());
        let place = quote! { &self.#member };
        let (ty_expr, write, read) = match fopts.kind {
            Kind::Default => (
                quote_spanned! {ty_span=> <#ty as #krate::wire::WireField>::field_type() },
                quote_spanned! {ty_span=>
                    <#ty as #krate::wire::WireField>::write(#place, #map, #out);
                },
                quote_spanned! {ty_span=>
                    <#ty as #krate::wire::WireField>::read(#values, #map, #at)
                },
            ),
            Kind::Fixed { repr, scale } => {
                let scalar = quote! { #krate::protocol::state::Scalar::#repr };
                let scale = Literal::u32_unsuffixed(scale);
                (
                    quote_spanned! {ty_span=>
                        <#ty as #krate::wire::FixedPoint>::fixed_type(#scalar, #scale)
                    },
                    quote_spanned! {ty_span=>
                        <#ty as #krate::wire::FixedPoint>::write_fixed(#place, #scalar, #scale, #out);
                    },
                    quote_spanned! {ty_span=>
                        <#ty as #krate::wire::FixedPoint>::read_fixed(#values, #scalar, #scale, #at)
                    },
                )
            }
            Kind::Text(max) => {
                let max = Literal::u16_unsuffixed(max);
                (
                    quote! { #krate::wire::text_type(#max) },
                    quote_spanned! {ty_span=>
                        #krate::wire::write_text(
                            <#ty as ::core::convert::AsRef<str>>::as_ref(#place), #max, #out);
                    },
                    quote_spanned! {ty_span=> #krate::wire::read_text(#values, #at) },
                )
            }
            Kind::Skip => unreachable!("skipped fields are handled above"),
        };
        schema_fields.push(quote! { #krate::protocol::state::Field::new(#name_lit, #ty_expr) });
        writes.push(write);
        reads.push(quote! { #member: #read? });
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name_lit = LitStr::new(&type_name, Span::call_site());
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::wire::Wire for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name_lit;

            fn fields() -> ::std::vec::Vec<#krate::protocol::state::Field> {
                ::std::vec![#(#schema_fields),*]
            }

            fn write(
                &self,
                #map: &dyn #krate::wire::EntityMap,
                #out: &mut ::std::vec::Vec<#krate::protocol::state::Value>,
            ) {
                #(#writes)*
            }

            fn read(
                #values: &mut ::std::slice::Iter<'_, #krate::protocol::state::Value>,
                #map: &dyn #krate::wire::EntityMap,
            ) -> ::std::result::Result<Self, #krate::wire::WireError> {
                ::std::result::Result::Ok(Self { #(#reads),* })
            }
        }
    })
}

fn is_wire(attr: &Attribute) -> bool {
    attr.path().is_ident("wire")
}

fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map_or_else(|| "<path>".to_owned(), |i| i.unraw().to_string())
}

fn type_opts(attrs: &[Attribute]) -> syn::Result<TypeOpts> {
    let mut opts = TypeOpts::default();
    for attr in attrs.iter().filter(|a| is_wire(a)) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if opts.name.is_some() {
                    return Err(meta.error("duplicate `name` in #[wire(...)]"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                opts.name = Some(wire_name(&lit)?);
            } else if meta.path.is_ident("crate") {
                if opts.krate.is_some() {
                    return Err(meta.error("duplicate `crate` in #[wire(...)]"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                let path = lit.parse_with(Path::parse_mod_style).map_err(|_| {
                    Error::new_spanned(
                        &lit,
                        "`crate` must be a path such as \"::tickroom\" or \"tickroom_game\"",
                    )
                })?;
                opts.krate = Some(path);
            } else if ["fixed", "text", "skip", "rename"].contains(&key(&meta).as_str()) {
                return Err(meta.error(format!(
                    "`{}` is a field attribute: put #[wire({0}...)] on a field",
                    key(&meta)
                )));
            } else {
                return Err(meta.error(format!(
                    "unknown #[wire] attribute `{}` on a type; expected `name = \"...\"` \
                     or `crate = \"...\"`",
                    key(&meta)
                )));
            }
            Ok(())
        })?;
    }
    Ok(opts)
}

fn field_opts(attrs: &[Attribute]) -> syn::Result<FieldOpts> {
    let mut kind: Option<(Kind, &'static str)> = None;
    let mut rename: Option<(String, Span)> = None;
    for attr in attrs.iter().filter(|a| is_wire(a)) {
        attr.parse_nested_meta(|meta| {
            let new = if meta.path.is_ident("fixed") {
                (parse_fixed(&meta)?, "fixed")
            } else if meta.path.is_ident("text") {
                (parse_text(&meta)?, "text")
            } else if meta.path.is_ident("skip") {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    return Err(meta.error("`skip` takes no value: write #[wire(skip)]"));
                }
                (Kind::Skip, "skip")
            } else if meta.path.is_ident("rename") {
                if rename.is_some() {
                    return Err(meta.error("duplicate `rename` in #[wire(...)]"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                rename = Some((wire_name(&lit)?, lit.span()));
                return Ok(());
            } else if ["name", "crate"].contains(&key(&meta).as_str()) {
                return Err(meta.error(format!(
                    "`{}` is a type attribute: put #[wire({0} = \"...\")] on the struct",
                    key(&meta)
                )));
            } else {
                return Err(meta.error(format!(
                    "unknown #[wire] attribute `{}` on a field; expected `fixed(REPR, SCALE)`, \
                     `text(N)`, `skip` or `rename = \"...\"`",
                    key(&meta)
                )));
            };
            if let Some((_, old)) = &kind {
                return Err(meta.error(format!(
                    "a field takes at most one of `fixed`, `text` and `skip` (it already has `{old}`)"
                )));
            }
            kind = Some(new);
            Ok(())
        })?;
    }
    let kind = kind.map_or(Kind::Default, |(k, _)| k);
    if let (Kind::Skip, Some((_, span))) = (&kind, &rename) {
        return Err(Error::new(
            *span,
            "`rename` has no effect on a `skip`ped field: remove one of them",
        ));
    }
    Ok(FieldOpts { kind, rename })
}

/// The tokens of one argument in `content`, up to a top-level `,` (which
/// is consumed) or the end.
fn arg(content: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !content.is_empty() && !content.peek(Token![,]) {
        tokens.extend([content.parse::<TokenTree>()?]);
    }
    if !content.is_empty() {
        content.parse::<Token![,]>()?;
    }
    Ok(tokens)
}

/// `fixed(REPR, SCALE)`.
fn parse_fixed(meta: &ParseNestedMeta<'_>) -> syn::Result<Kind> {
    const USAGE: &str = "expected `fixed(REPR, SCALE)`, e.g. #[wire(fixed(i32, 100))]";
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(USAGE));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let repr_tokens = arg(&content)?;
    if repr_tokens.is_empty() {
        return Err(meta.error(USAGE));
    }
    let repr = match syn::parse2::<Ident>(repr_tokens.clone()) {
        Ok(ident) => ident,
        Err(_) => return Err(Error::new_spanned(repr_tokens, REPR_ERROR)),
    };
    let variant = match repr.to_string().as_str() {
        "u8" => "U8",
        "u16" => "U16",
        "u32" => "U32",
        "u64" => "U64",
        "i8" => "I8",
        "i16" => "I16",
        "i32" => "I32",
        "i64" => "I64",
        _ => return Err(Error::new_spanned(&repr, REPR_ERROR)),
    };
    let scale_tokens = arg(&content)?;
    if scale_tokens.is_empty() {
        return Err(meta.error(
            "missing the scale: expected `fixed(REPR, SCALE)`, e.g. #[wire(fixed(i32, 100))]",
        ));
    }
    let scale = int_arg::<u32>(
        scale_tokens,
        1,
        u32::MAX,
        "the fixed-point scale must be an integer literal in 1..=4294967295 \
         (values are sent as round(x * scale))",
    )?;
    if !content.is_empty() {
        return Err(content.error("unexpected argument: `fixed` takes (REPR, SCALE)"));
    }
    Ok(Kind::Fixed {
        repr: Ident::new(variant, repr.span()),
        scale,
    })
}

const REPR_ERROR: &str = "the fixed-point representation must be one of u8, u16, u32, u64, \
                          i8, i16, i32, i64";

/// `text(N)`.
fn parse_text(meta: &ParseNestedMeta<'_>) -> syn::Result<Kind> {
    const USAGE: &str = "expected `text(N)` with N the most bytes, e.g. #[wire(text(32))]";
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(USAGE));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let tokens = arg(&content)?;
    if tokens.is_empty() {
        return Err(meta.error(USAGE));
    }
    let max = int_arg::<u16>(
        tokens,
        1,
        MAX_TEXT_BYTES,
        "a text field's bound must be an integer literal in 1..=1024 (bytes)",
    )?;
    if !content.is_empty() {
        return Err(content.error("unexpected argument: `text` takes one bound (N)"));
    }
    Ok(Kind::Text(max))
}

/// An integer literal in `min..=max`, or `message` spanned on the tokens.
fn int_arg<N>(tokens: TokenStream, min: N, max: N, message: &str) -> syn::Result<N>
where
    N: std::str::FromStr + PartialOrd,
    N::Err: std::fmt::Display,
{
    let lit =
        syn::parse2::<LitInt>(tokens.clone()).map_err(|_| Error::new_spanned(&tokens, message))?;
    match lit.base10_parse::<N>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(Error::new_spanned(&lit, message)),
    }
}

/// A schema name from `name = "..."` or `rename = "..."`: 1 to 64 ASCII
/// letters, digits, `_` or `-` (what `Schema::new` accepts).
fn wire_name(lit: &LitStr) -> syn::Result<String> {
    let name = lit.value();
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(Error::new_spanned(
            lit,
            "a wire name must be 1 to 64 ASCII letters, digits, '_' or '-'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    fn expanded(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(tokens) => tokens.to_string(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    #[test]
    fn names_default_to_snake_case_and_can_be_overridden() {
        let out = expanded(syn::parse_quote! { struct PlayerShip { hp: u8 } });
        assert!(out.contains("\"player_ship\""), "{out}");
        assert!(out.contains("\"player_ship.hp\""), "{out}");
        let out = expanded(syn::parse_quote! {
            #[wire(name = "ship", crate = "tickroom_game")]
            struct PlayerShip { #[wire(rename = "health")] r#hp: u8 }
        });
        assert!(out.contains("\"ship.health\""), "{out}");
        assert!(out.contains("tickroom_game :: wire :: Wire"), "{out}");
        assert!(!out.contains(":: tickroom ::"), "{out}");
    }

    #[test]
    fn unsupported_shapes_are_refused() {
        assert!(error(syn::parse_quote! { enum E { A } }).contains("supports structs"));
        assert!(error(syn::parse_quote! { struct T(u8); }).contains("tuple structs"));
        assert!(error(syn::parse_quote! { union U { a: u8 } }).contains("not unions"));
        for input in [
            syn::parse_quote! { struct T<A> { a: A } },
            syn::parse_quote! { struct T<'a> { a: &'a str } },
            syn::parse_quote! { struct T<const N: usize> { a: [u8; N] } },
        ] {
            assert!(error(input).contains("does not support generics"));
        }
    }

    #[test]
    fn bad_attributes_are_refused_with_what_is_wrong() {
        let cases: Vec<(DeriveInput, &str)> = vec![
            (
                syn::parse_quote! { #[wire(nmae = "x")] struct T; },
                "unknown #[wire] attribute `nmae` on a type",
            ),
            (
                syn::parse_quote! { #[wire(name = "has space")] struct T; },
                "a wire name must be",
            ),
            (
                syn::parse_quote! { #[wire(crate = "not a path")] struct T; },
                "`crate` must be a path",
            ),
            (
                syn::parse_quote! { #[wire(skip)] struct T; },
                "`skip` is a field attribute",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixd(i32, 2))] a: f32 } },
                "unknown #[wire] attribute `fixd` on a field",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(f32, 2))] a: f32 } },
                "representation must be one of",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32, 0))] a: f32 } },
                "scale must be an integer literal",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32, -3))] a: f32 } },
                "scale must be an integer literal",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32, 4294967296))] a: f32 } },
                "scale must be an integer literal",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32, SCALE))] a: f32 } },
                "scale must be an integer literal",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32))] a: f32 } },
                "missing the scale",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed(i32, 2, 3))] a: f32 } },
                "unexpected argument",
            ),
            (
                syn::parse_quote! { struct T { #[wire(fixed)] a: f32 } },
                "expected `fixed(REPR, SCALE)`",
            ),
            (
                syn::parse_quote! { struct T { #[wire(text(0))] a: String } },
                "bound must be an integer literal in 1..=1024",
            ),
            (
                syn::parse_quote! { struct T { #[wire(text(1025))] a: String } },
                "bound must be an integer literal in 1..=1024",
            ),
            (
                syn::parse_quote! { struct T { #[wire(text = 3)] a: String } },
                "expected `text(N)`",
            ),
            (
                syn::parse_quote! { struct T { #[wire(skip = true)] a: u8 } },
                "`skip` takes no value",
            ),
            (
                syn::parse_quote! { struct T { #[wire(skip, text(3))] a: String } },
                "at most one of",
            ),
            (
                syn::parse_quote! { struct T { #[wire(skip)] #[wire(skip)] a: u8 } },
                "at most one of",
            ),
            (
                syn::parse_quote! { struct T { #[wire(skip, rename = "b")] a: u8 } },
                "no effect on a `skip`ped field",
            ),
            (
                syn::parse_quote! { struct T { #[wire(rename = "")] a: u8 } },
                "a wire name must be",
            ),
            (
                syn::parse_quote! { struct T { #[wire(name = "b")] a: u8 } },
                "`name` is a type attribute",
            ),
            (
                syn::parse_quote! { struct T { a: u8, #[wire(rename = "a")] b: u8 } },
                "two fields of this type are called `a`",
            ),
        ];
        for (input, want) in cases {
            let got = error(input);
            assert!(got.contains(want), "want {want:?}, got {got:?}");
        }
    }

    #[test]
    fn errors_of_several_fields_are_all_reported() {
        let input: DeriveInput = syn::parse_quote! {
            struct T { #[wire(text(0))] a: String, #[wire(bogus)] b: u8 }
        };
        let tokens = expand(&input).unwrap_err().into_compile_error().to_string();
        assert_eq!(tokens.matches("compile_error").count(), 2, "{tokens}");
    }
}
