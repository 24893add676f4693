//! Reading a `MetricSet` declaration into its model: attribute syntax, keys and collector types.

use super::model::{Declaration, Keys, Kind, Metric};
use crate::{attr, ctxt::Ctxt, docs};

const FIELD_KEYS: &[&str] = &["name", "labels", "buckets"];
const KINDS: &str = "Gauge, IntGauge, Counter, IntCounter, Histogram, GaugeVec, IntGaugeVec, \
                     CounterVec, IntCounterVec or HistogramVec (from the prometheus crate)";

/// Reads the whole declaration; problems that still leave a model are recorded in `cx`.
pub fn declaration(cx: &Ctxt, input: &syn::DeriveInput) -> syn::Result<Declaration> {
    let fields = attr::named_fields(input, "MetricSet", "metric")?;
    Ok(Declaration {
        ident: input.ident.clone(),
        metrics: fields.iter().filter_map(|f| field(cx, f)).collect(),
    })
}

/// Reads one field; `None`, with the error recorded, when its type is not a collector.
fn field(cx: &Ctxt, field: &syn::Field) -> Option<Metric> {
    let ident = field.ident.as_ref()?; // named fields always have one
    let keys = keys(cx, field);
    let Some(kind) = Kind::from_type(&field.ty) else {
        cx.error_spanned_by(
            &field.ty,
            format!("metric field `{ident}` has an unsupported type: use {KINDS}"),
        );
        return None;
    };
    Some(Metric {
        field: ident.clone(),
        kind,
        doc: docs::read(&field.attrs),
        keys,
    })
}

/// Reads the `#[metric(...)]` keys of a field.
fn keys(cx: &Ctxt, field: &syn::Field) -> Keys {
    let mut keys = Keys::default();
    keys.complete = attr::for_each_key(cx, &field.attrs, "metric", FIELD_KEYS, |meta| {
        if meta.path.is_ident("name") {
            keys.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("labels") {
            keys.labels = Some(attr::string_list(meta)?);
        } else if meta.path.is_ident("buckets") {
            let content;
            syn::parenthesized!(content in meta.input);
            let items =
                content.parse_terminated(<syn::Lit as syn::parse::Parse>::parse, syn::Token![,])?;
            let values = items
                .iter()
                .map(bucket)
                .collect::<syn::Result<Vec<f64>>>()?;
            keys.buckets = Some((meta.path.clone(), values));
        } else {
            return Ok(false);
        }
        Ok(true)
    });
    keys
}

/// One bucket bound: a float literal.
fn bucket(lit: &syn::Lit) -> syn::Result<f64> {
    match lit {
        syn::Lit::Float(float) => float.base10_parse(),
        syn::Lit::Int(int) => Err(syn::Error::new_spanned(
            int,
            format!(
                "bucket bounds are float literals: write `{}.0`",
                int.base10_digits()
            ),
        )),
        other => Err(syn::Error::new_spanned(
            other,
            "bucket bounds are float literals, like `0.5`",
        )),
    }
}
