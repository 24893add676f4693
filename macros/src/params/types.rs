//! The parameter value types the derive understands, and compile-time checks of literals.

use wva_core::params::grammar;

/// A supported parameter value type, read from the field's type syntax.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Bool,
    Int {
        min: i128,
        max: i128,
    },
    Float,
    Str,
    Duration,
    Address,
    /// A type declared with `wva_core::choice_param!`: one of a fixed set of words. Its
    /// default is parsed by the type itself when the parameters resolve.
    Choice,
}

/// The type of a parameter field: its kind and whether it is `Option<_>`.
pub struct FieldType {
    pub kind: Kind,
    pub optional: bool,
}

/// The names accepted in field types, for the error message.
pub const SUPPORTED: &str = "bool, u8, u16, u32, u64, usize, i32, i64, f64, String, Duration, \
                             BindAddress, a type declared with `wva_core::choice_param!`, or \
                             Option<_> of one of them";

/// Reads the field type; `None` when it is not supported.
pub fn field_type(ty: &syn::Type) -> Option<FieldType> {
    let segment = last_segment(ty)?;
    if segment.ident == "Option" {
        let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        let Some(syn::GenericArgument::Type(inner)) = args.args.first() else {
            return None;
        };
        let kind = kind(last_segment(inner)?)?;
        return Some(FieldType {
            kind,
            optional: true,
        });
    }
    Some(FieldType {
        kind: kind(segment)?,
        optional: false,
    })
}

fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

/// The kind of a type named by `segment`; any other plain name (no generic arguments) is
/// taken as a choice type, which the compiler then checks implements `ParamValue`.
fn kind(segment: &syn::PathSegment) -> Option<Kind> {
    let int = |min: i128, max: i128| Some(Kind::Int { min, max });
    match segment.ident.to_string().as_str() {
        "bool" => Some(Kind::Bool),
        "u8" => int(0, u8::MAX.into()),
        "u16" => int(0, u16::MAX.into()),
        "u32" => int(0, u32::MAX.into()),
        "u64" | "usize" => int(0, u64::MAX.into()),
        "i32" => int(i32::MIN.into(), i32::MAX.into()),
        "i64" => int(i64::MIN.into(), i64::MAX.into()),
        "f64" => Some(Kind::Float),
        "String" => Some(Kind::Str),
        "Duration" => Some(Kind::Duration),
        "BindAddress" => Some(Kind::Address),
        "Option" | "Vec" | "HashMap" | "BTreeMap" => None,
        _ if segment.arguments.is_none() => Some(Kind::Choice),
        _ => None,
    }
}

/// Checks that `text` parses as a value of `kind`, with the runtime's own grammar.
pub fn check_literal(kind: Kind, text: &str) -> Result<(), String> {
    match kind {
        Kind::Bool => grammar::parse_bool(text).map(drop),
        Kind::Int { min, max } => match text.trim().parse::<i128>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            _ => Err(format!(
                "expected a whole number from {min} to {max}, got {text:?}"
            )),
        },
        Kind::Float => text
            .trim()
            .parse::<f64>()
            .map(drop)
            .map_err(|_| format!("expected a number, got {text:?}")),
        Kind::Str | Kind::Choice => Ok(()),
        Kind::Duration => grammar::parse_duration(text).map(drop),
        Kind::Address => grammar::parse_bind_address(text).map(drop),
    }
}

/// True when `min` is above `max`, both literals of `kind` that parse.
pub fn exceeds(kind: Kind, min: &str, max: &str) -> bool {
    match kind {
        Kind::Int { .. } => {
            matches!((min.trim().parse::<i128>(), max.trim().parse::<i128>()), (Ok(a), Ok(b)) if a > b)
        }
        Kind::Float => {
            matches!((min.trim().parse::<f64>(), max.trim().parse::<f64>()), (Ok(a), Ok(b)) if a > b)
        }
        Kind::Duration => matches!(
            (grammar::parse_duration(min), grammar::parse_duration(max)),
            (Ok(a), Ok(b)) if a > b
        ),
        Kind::Bool | Kind::Str | Kind::Address | Kind::Choice => false,
    }
}
