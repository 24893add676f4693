//! The model of a `MetricSet` declaration, as the parse pass reads it.
//!
//! It keeps the literals as written, with their spans, so the check pass can point at the
//! offending token.

use crate::docs::Doc;

/// A struct of metrics.
pub struct Declaration {
    /// The struct's name.
    pub ident: syn::Ident,
    /// One entry per field whose type is a collector, in declaration order.
    pub metrics: Vec<Metric>,
}

/// One metric field and its `#[metric(...)]` keys.
pub struct Metric {
    /// The field name.
    pub field: syn::Ident,
    /// The collector type of the field.
    pub kind: Kind,
    /// The doc comment: its first paragraph is the HELP text.
    pub doc: Doc,
    /// The `#[metric(...)]` keys.
    pub keys: Keys,
}

impl Metric {
    /// The metric name: `name = "..."`, else the field name.
    pub fn name(&self) -> String {
        self.keys
            .name
            .as_ref()
            .map_or_else(|| self.field.to_string(), syn::LitStr::value)
    }

    /// The label names, as declared.
    pub fn labels(&self) -> &[syn::LitStr] {
        self.keys.labels.as_deref().unwrap_or_default()
    }
}

/// The keys of one field's `#[metric(...)]` attributes.
#[derive(Default)]
pub struct Keys {
    /// `name = "..."`.
    pub name: Option<syn::LitStr>,
    /// `labels("a", "b")`.
    pub labels: Option<Vec<syn::LitStr>>,
    /// `buckets(0.1, 1.0)`, with the key's tokens.
    pub buckets: Option<(syn::Path, Vec<f64>)>,
    /// False when a key was rejected (unknown, repeated or malformed): the checks that a key
    /// is absent are then skipped, since the rejected key may be it.
    pub complete: bool,
}

/// The collector types a field may have.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Gauge,
    IntGauge,
    Counter,
    IntCounter,
    Histogram,
    GaugeVec,
    IntGaugeVec,
    CounterVec,
    IntCounterVec,
    HistogramVec,
}

impl Kind {
    /// The kind of a field type, `None` when it is not a collector.
    pub fn from_type(ty: &syn::Type) -> Option<Kind> {
        let syn::Type::Path(path) = ty else {
            return None;
        };
        Some(
            match path.path.segments.last()?.ident.to_string().as_str() {
                "Gauge" => Kind::Gauge,
                "IntGauge" => Kind::IntGauge,
                "Counter" => Kind::Counter,
                "IntCounter" => Kind::IntCounter,
                "Histogram" => Kind::Histogram,
                "GaugeVec" => Kind::GaugeVec,
                "IntGaugeVec" => Kind::IntGaugeVec,
                "CounterVec" => Kind::CounterVec,
                "IntCounterVec" => Kind::IntCounterVec,
                "HistogramVec" => Kind::HistogramVec,
                _ => return None,
            },
        )
    }

    /// True for the `*Vec` kinds, which take labels.
    pub fn is_vec(self) -> bool {
        matches!(
            self,
            Kind::GaugeVec
                | Kind::IntGaugeVec
                | Kind::CounterVec
                | Kind::IntCounterVec
                | Kind::HistogramVec
        )
    }

    /// True for histograms, which take buckets.
    pub fn is_histogram(self) -> bool {
        matches!(self, Kind::Histogram | Kind::HistogramVec)
    }

    /// True for counters.
    pub fn is_counter(self) -> bool {
        matches!(
            self,
            Kind::Counter | Kind::IntCounter | Kind::CounterVec | Kind::IntCounterVec
        )
    }

    /// The Prometheus type name.
    pub fn prometheus_type(self) -> &'static str {
        if self.is_counter() {
            "counter"
        } else if self.is_histogram() {
            "histogram"
        } else {
            "gauge"
        }
    }
}
