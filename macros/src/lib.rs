//! Derive macros behind WVA's "declare once" design.
//!
//! * [`ConfigParams`](derive@ConfigParams) turns a struct of annotated fields into a parameter
//!   table (CLI flag, env var / ConfigMap key, type, default, mutability, description) and a
//!   typed loader that resolves *explicit flag > env > ConfigMap > default*, and one typed key
//!   per field (`StaticConfig::REST_CLIENT_TIMEOUT: Key<Duration>`).
//! * [`MetricSet`](derive@MetricSet) turns a struct of `prometheus` collectors into a metric
//!   table and a registration function that adds the `controller_instance` label exactly when
//!   an instance is configured.
//!
//! Each entry point is one line: [`derive::run`] parses the input into a model, checks it, and
//! expands it, with the passes of each derive in its module.

mod attr;
mod ctxt;
mod derive;
mod docs;
mod metrics;
mod naming;
mod params;

/// Derives `wva_api::params::Params` for a struct whose fields carry `#[param(...)]`, and a
/// `wva_api::params::Key<T>` constant per field named like its env var / ConfigMap key.
///
/// Field keys: `flag` (long flag from the field name, kebab-case) or `flag = "name"`,
/// `short = 'v'`, `default = "..."` (checked against the field type at compile time),
/// `min = "..."` (numbers and durations), `required`, `env_only` (never read from the
/// ConfigMap), `secret` (never shown), `pending = "feature"` (the feature has not landed: a
/// non-default value warns). Each key may be given once. Struct key: `#[params(mutable)]` (all
/// fields may change at runtime). The doc comment's first paragraph is the description (docs
/// and `-h`); the paragraphs after it are the long help (`--help`).
#[proc_macro_derive(ConfigParams, attributes(param, params))]
pub fn derive_config_params(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    derive::run(&params::PASSES, input.into()).into()
}

/// Derives `wva_api::metrics::MetricSet` for a struct of `prometheus` collectors.
///
/// Field keys: `name = "..."` (defaults to the field name), `labels("a", "b")`,
/// `buckets(0.1, 1.0)` (histograms). The doc comment is the HELP text.
#[proc_macro_derive(MetricSet, attributes(metric))]
pub fn derive_metric_set(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    derive::run(&metrics::PASSES, input.into()).into()
}
