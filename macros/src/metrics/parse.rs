//! Reading and checking a `MetricSet` declaration.

use crate::{attr, ctxt::Ctxt, docs, naming};
use std::collections::HashSet;

/// A checked declaration.
pub struct Declaration {
    pub ident: syn::Ident,
    pub metrics: Vec<Metric>,
}

/// One checked metric field.
pub struct Metric {
    pub field: syn::Ident,
    pub kind: Kind,
    pub name: String,
    pub help: String,
    pub labels: Vec<String>,
    pub buckets: Option<Vec<f64>>,
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
    fn from_type(ty: &syn::Type) -> Option<Kind> {
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

const FIELD_KEYS: &[&str] = &["name", "labels", "buckets"];
const KINDS: &str = "Gauge, IntGauge, Counter, IntCounter, Histogram, GaugeVec, IntGaugeVec, \
                     CounterVec, IntCounterVec or HistogramVec (from the prometheus crate)";
/// Added by the registration itself when a controller instance is configured.
const RESERVED_LABEL: &str = "controller_instance";

/// Reads the whole declaration; every problem is recorded in `cx`.
pub fn declaration(cx: &Ctxt, input: &syn::DeriveInput) -> Option<Declaration> {
    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(fields),
        ..
    }) = &input.data
    else {
        cx.error_spanned_by(
            &input.ident,
            "MetricSet can only be derived for a struct with named fields: each field is one metric",
        );
        return None;
    };
    let metrics: Vec<Metric> = fields.named.iter().filter_map(|f| field(cx, f)).collect();
    let mut names = HashSet::new();
    for m in &metrics {
        if !names.insert(&m.name) {
            cx.error_spanned_by(
                &m.field,
                format!("metric name `{}` is declared twice: rename one", m.name),
            );
        }
    }
    Some(Declaration {
        ident: input.ident.clone(),
        metrics,
    })
}

#[derive(Default)]
struct Keys {
    name: Option<syn::LitStr>,
    labels: Option<Vec<syn::LitStr>>,
    buckets: Option<(syn::Path, Vec<f64>)>,
}

fn read_keys(cx: &Ctxt, field: &syn::Field) -> Keys {
    let mut keys = Keys::default();
    attr::for_each_key(cx, &field.attrs, "metric", FIELD_KEYS, |meta| {
        if meta.path.is_ident("name") {
            keys.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("labels") {
            keys.labels = Some(attr::string_list(meta)?);
        } else if meta.path.is_ident("buckets") {
            let content;
            syn::parenthesized!(content in meta.input);
            let items = content
                .parse_terminated(<syn::LitFloat as syn::parse::Parse>::parse, syn::Token![,])?;
            let values = items
                .iter()
                .map(syn::LitFloat::base10_parse::<f64>)
                .collect::<syn::Result<Vec<f64>>>()?;
            keys.buckets = Some((meta.path.clone(), values));
        } else {
            return Ok(false);
        }
        Ok(true)
    });
    keys
}

fn field(cx: &Ctxt, field: &syn::Field) -> Option<Metric> {
    let ident = field.ident.clone()?;
    let keys = read_keys(cx, field);
    let Some(kind) = Kind::from_type(&field.ty) else {
        cx.error_spanned_by(
            &field.ty,
            format!("metric field `{ident}` has an unsupported type: use {KINDS}"),
        );
        return None;
    };
    let Some(doc) = docs::read(&field.attrs) else {
        cx.error_spanned_by(
            &ident,
            format!("metric `{ident}` needs a doc comment: it becomes the HELP text"),
        );
        return None;
    };
    let name = match &keys.name {
        Some(lit) => {
            let name = lit.value();
            if !naming::is_metric_name(&name) {
                cx.error_spanned_by(lit, format!(
                    "invalid metric name `{name}`: use letters, digits, `_` and `:` only, not starting with a digit"
                ));
            }
            name
        }
        None => ident.to_string(),
    };
    if kind.is_counter() && !name.ends_with("_total") {
        cx.error_spanned_by(keys.name.as_ref().map_or(&ident as &dyn quote::ToTokens, |l| l), format!(
            "counter `{name}` should end in `_total` (Prometheus naming convention): rename it to `{name}_total`"
        ));
    }
    let labels = check_labels(cx, &ident, kind, keys.labels.as_deref());
    if let (Some((path, _)), false) = (&keys.buckets, kind.is_histogram()) {
        cx.error_spanned_by(
            path,
            "`buckets` applies to Histogram and HistogramVec only: remove it",
        );
    }
    Some(Metric {
        field: ident,
        kind,
        name,
        help: doc.summary,
        labels,
        buckets: keys.buckets.map(|(_, b)| b),
    })
}

fn check_labels(
    cx: &Ctxt,
    ident: &syn::Ident,
    kind: Kind,
    labels: Option<&[syn::LitStr]>,
) -> Vec<String> {
    let labels = labels.unwrap_or_default();
    if kind.is_vec() && labels.is_empty() {
        cx.error_spanned_by(ident, format!(
            "metric `{ident}` is a *Vec collector and needs `labels(\"...\")`; use the plain collector type for a metric without labels"
        ));
    }
    if !kind.is_vec() && !labels.is_empty() {
        cx.error_spanned_by(&labels[0], format!(
            "metric `{ident}` has labels but a plain collector type: use the *Vec type or remove `labels`"
        ));
    }
    let mut seen = HashSet::new();
    for lit in labels {
        let label = lit.value();
        if !naming::is_label_name(&label) {
            cx.error_spanned_by(lit, format!("invalid label name `{label}`: use letters, digits and `_`, not starting with a digit or `__`"));
        } else if label == RESERVED_LABEL {
            cx.error_spanned_by(lit, "`controller_instance` is added automatically when CONTROLLER_INSTANCE is set: remove it");
        } else if !seen.insert(label.clone()) {
            cx.error_spanned_by(
                lit,
                format!("label `{label}` is named twice: remove the second one"),
            );
        }
    }
    labels.iter().map(syn::LitStr::value).collect()
}
