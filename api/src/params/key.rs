//! Typed parameter keys: a parameter's row together with its value type.

use super::{LoadError, ParamSpec, ParamValue, Sources, Violation, resolve};
use std::fmt;
use std::marker::PhantomData;

/// The key of one parameter whose value has type `T`.
///
/// `#[derive(ConfigParams)]` emits one per field, named like its env var / ConfigMap key:
/// `StaticConfig::REST_CLIENT_TIMEOUT` is a `Key<Duration>`. Looking a parameter up through
/// its key is checked by the compiler, where a lookup by name could only fail at runtime.
pub struct Key<T> {
    spec: &'static ParamSpec,
    value: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    /// The key of the parameter in row `spec`, whose field has type `T`. Only the derive
    /// should call this: it alone knows that the row and the type belong together.
    pub const fn new(spec: &'static ParamSpec) -> Self {
        Key {
            spec,
            value: PhantomData,
        }
    }

    /// The row of the parameter.
    pub const fn spec(self) -> &'static ParamSpec {
        self.spec
    }

    /// The env var and ConfigMap key, e.g. `REST_CLIENT_TIMEOUT`.
    pub const fn name(self) -> &'static str {
        self.spec.key
    }
}

impl<T: ParamValue> Key<T> {
    /// Resolves this parameter alone from `sources` (explicit flag > env > ConfigMap >
    /// default), e.g. before the whole configuration can be loaded.
    pub fn resolve(self, sources: &Sources) -> Result<T, LoadError> {
        let mut errors = Vec::new();
        resolve::<T>(self.spec, sources, &mut errors).ok_or_else(|| LoadError::new(errors))
    }

    /// This parameter, with value `value`, breaks `rule` (which says how to satisfy it).
    pub fn violation(self, value: &T, rule: impl Into<String>) -> Violation {
        Violation {
            spec: self.spec,
            value: value.render(),
            rule: rule.into(),
        }
    }
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Key<T> {}

impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Key").field(&self.spec.key).finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::StaticConfig;
    use crate::params::Sources;
    use std::time::Duration;

    #[test]
    fn a_key_names_its_parameter_and_resolves_to_its_type() {
        let key = StaticConfig::REST_CLIENT_TIMEOUT;
        assert_eq!(key.name(), "REST_CLIENT_TIMEOUT");
        assert_eq!(key.spec().field, "rest_client_timeout");
        let mut sources = Sources::default();
        assert_eq!(key.resolve(&sources), Ok(Duration::from_secs(60)));
        sources.env.insert(key.name().into(), "5s".into());
        assert_eq!(key.resolve(&sources), Ok(Duration::from_secs(5)));
        sources.env.insert(key.name().into(), "soon".into());
        let error = key.resolve(&sources).expect_err("not a duration");
        assert_eq!(error.errors[0].key, "REST_CLIENT_TIMEOUT");
    }
}
