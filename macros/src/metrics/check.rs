//! The rules a `MetricSet` model must follow, each reported on the token that breaks it.

use super::model::{Declaration, Metric};
use crate::{ctxt::Ctxt, naming};
use std::collections::HashSet;

/// Added by the registration itself when a controller instance is configured.
const RESERVED_LABEL: &str = "controller_instance";

/// Records every rule `decl` breaks.
pub fn declaration(cx: &Ctxt, decl: &Declaration) {
    let mut names = HashSet::new();
    for metric in &decl.metrics {
        check_metric(cx, metric);
        let name = metric.name();
        if !names.insert(name.clone()) {
            cx.error_spanned_by(
                &metric.field,
                format!("metric name `{name}` is declared twice: rename one"),
            );
        }
    }
}

fn check_metric(cx: &Ctxt, m: &Metric) {
    let ident = &m.field;
    if m.doc.is_missing() {
        cx.error_spanned_by(
            ident,
            format!("metric `{ident}` needs a doc comment: it becomes the HELP text"),
        );
    }
    check_name(cx, m);
    check_labels(cx, m);
    if let (Some((path, _)), false) = (&m.keys.buckets, m.kind.is_histogram()) {
        cx.error_spanned_by(
            path,
            "`buckets` applies to Histogram and HistogramVec only: remove it",
        );
    }
}

/// A valid Prometheus name; counters end in `_total`.
fn check_name(cx: &Ctxt, m: &Metric) {
    let name = m.name();
    if let Some(lit) = &m.keys.name
        && !naming::is_metric_name(&name)
    {
        cx.error_spanned_by(lit, format!(
            "invalid metric name `{name}`: use letters, digits, `_` and `:` only, not starting with a digit"
        ));
    }
    // Without `name` the field name is checked, unless a rejected key may have been `name`.
    let spanned: &dyn quote::ToTokens = match &m.keys.name {
        Some(lit) => lit,
        None if m.keys.complete => &m.field,
        None => return,
    };
    if m.kind.is_counter() && !name.ends_with("_total") {
        cx.error_spanned_by(spanned, format!(
            "counter `{name}` should end in `_total` (Prometheus naming convention): rename it to `{name}_total`"
        ));
    }
}

/// `*Vec` collectors have labels and plain ones do not; every label name is valid, not
/// reserved, and named once.
fn check_labels(cx: &Ctxt, m: &Metric) {
    let ident = &m.field;
    let labels = m.labels();
    // A rejected key may have been `labels`: its error is enough.
    if m.kind.is_vec() && labels.is_empty() && m.keys.complete {
        cx.error_spanned_by(ident, format!(
            "metric `{ident}` is a *Vec collector and needs `labels(\"...\")`; use the plain collector type for a metric without labels"
        ));
    }
    if !m.kind.is_vec() && !labels.is_empty() {
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
}
