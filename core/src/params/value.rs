//! Parameter value types and their text form.

use super::grammar;
use std::net::SocketAddr;
use std::time::Duration;

/// A type a parameter may have: parsed from text and rendered back to text.
pub trait ParamValue: Sized {
    /// The type name shown in docs and `--help`.
    const TYPE_NAME: &'static str;

    /// Parses a value; the error says what was expected.
    fn parse_param(text: &str) -> Result<Self, String>;

    /// Renders the value as users write it.
    fn render(&self) -> String;

    /// The value when no source sets the parameter and it has no default (`Option` only).
    fn unset() -> Option<Self> {
        None
    }

    /// True when `self` is below `min` (numbers and durations).
    fn is_below(&self, _min: &Self) -> bool {
        false
    }
}

macro_rules! integer_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            const TYPE_NAME: &'static str = "int";
            fn parse_param(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| {
                    format!("expected a whole number from {} to {}, got {text:?}", <$t>::MIN, <$t>::MAX)
                })
            }
            fn render(&self) -> String {
                self.to_string()
            }
            fn is_below(&self, min: &Self) -> bool {
                self < min
            }
        }
    )*};
}
integer_param!(u8, u16, u32, u64, usize, i32, i64);

impl ParamValue for f64 {
    const TYPE_NAME: &'static str = "float";
    fn parse_param(text: &str) -> Result<Self, String> {
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("expected a number, got {text:?}")),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
    fn is_below(&self, min: &Self) -> bool {
        self < min
    }
}

impl ParamValue for bool {
    const TYPE_NAME: &'static str = "bool";
    fn parse_param(text: &str) -> Result<Self, String> {
        grammar::parse_bool(text)
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

impl ParamValue for String {
    const TYPE_NAME: &'static str = "string";
    fn parse_param(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn render(&self) -> String {
        self.clone()
    }
}

impl ParamValue for Duration {
    const TYPE_NAME: &'static str = "duration";
    fn parse_param(text: &str) -> Result<Self, String> {
        grammar::parse_duration(text)
    }
    fn render(&self) -> String {
        grammar::format_duration(*self)
    }
    fn is_below(&self, min: &Self) -> bool {
        self < min
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    const TYPE_NAME: &'static str = T::TYPE_NAME;
    fn parse_param(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Ok(None)
        } else {
            T::parse_param(text).map(Some)
        }
    }
    fn render(&self) -> String {
        self.as_ref().map(T::render).unwrap_or_default()
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
    fn is_below(&self, min: &Self) -> bool {
        matches!((self, min), (Some(v), Some(m)) if v.is_below(m))
    }
}

/// A listen address: `0` disables the endpoint, `:8443` listens on all interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    text: String,
    addr: Option<SocketAddr>,
}

impl BindAddress {
    /// The socket address to bind, or `None` when the endpoint is disabled (`0`).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.addr
    }
}

impl ParamValue for BindAddress {
    const TYPE_NAME: &'static str = "address";
    fn parse_param(text: &str) -> Result<Self, String> {
        Ok(BindAddress {
            text: text.trim().to_string(),
            addr: grammar::parse_bind_address(text)?,
        })
    }
    fn render(&self) -> String {
        self.text.clone()
    }
}

/// Declares a parameter type that takes one of a fixed set of words: an enum whose
/// [`ParamValue::TYPE_NAME`] lists the words (`metric|scale`), parsed case-insensitively,
/// with an error that lists them.
///
/// ```
/// wva_core::choice_param! {
///     /// How a thing is done.
///     pub enum Mode {
///         /// The quick way.
///         Quick = "quick",
///         /// The careful way.
///         Careful = "careful",
///     }
/// }
/// use wva_core::params::ParamValue;
/// assert_eq!(Mode::parse_param("Careful"), Ok(Mode::Careful));
/// assert_eq!(Mode::TYPE_NAME, "quick|careful");
/// ```
#[macro_export]
macro_rules! choice_param {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The word users write for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::params::ParamValue for $name {
            const TYPE_NAME: &'static str = $crate::choice_param!(@join $($word),+);
            fn parse_param(text: &str) -> Result<Self, String> {
                let word = text.trim().to_ascii_lowercase();
                $(if word == $word {
                    return Ok(Self::$variant);
                })+
                Err(format!(
                    "expected one of {}, got {text:?}",
                    [$(concat!("\"", $word, "\"")),+].join(", ")
                ))
            }
            fn render(&self) -> String {
                self.as_str().to_string()
            }
        }
    };
    (@join $first:literal $(, $rest:literal)*) => {
        concat!($first $(, "|", $rest)*)
    };
}
