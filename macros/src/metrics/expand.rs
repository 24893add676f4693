//! Code generation for `MetricSet`: the metric table and registration.

use super::model::{Declaration, Kind, Metric};
use proc_macro2::TokenStream;
use quote::quote;

/// The `MetricSet` impl of a checked declaration.
pub fn implementation(decl: &Declaration) -> TokenStream {
    let ident = &decl.ident;
    let specs = decl.metrics.iter().map(spec);
    let fields: Vec<&syn::Ident> = decl.metrics.iter().map(|m| &m.field).collect();
    let builds = decl.metrics.iter().enumerate().map(|(i, m)| build(i, m));
    quote! {
        impl ::wva_api::metrics::MetricSet for #ident {
            const SPECS: &'static [::wva_api::metrics::MetricSpec] = &[#(#specs),*];

            fn register(
                registry: &::wva_api::metrics::prometheus::Registry,
                controller_instance: ::core::option::Option<&str>,
            ) -> ::core::result::Result<Self, ::wva_api::metrics::prometheus::Error> {
                #( let #fields = #builds; )*
                ::core::result::Result::Ok(Self { #(#fields),* })
            }
        }
    }
}

fn spec(m: &Metric) -> TokenStream {
    let (name, help) = (m.name(), &m.doc.summary);
    let labels = m.labels().iter().map(syn::LitStr::value);
    let kind = m.kind.prometheus_type();
    quote! {
        ::wva_api::metrics::MetricSpec {
            name: #name,
            kind: #kind,
            help: #help,
            labels: &[#(#labels),*],
        }
    }
}

/// An expression that creates the collector of `m`, registers it and yields it.
fn build(index: usize, m: &Metric) -> TokenStream {
    let ty = collector_type(m.kind);
    let opts = if m.kind.is_histogram() {
        let buckets = match &m.keys.buckets {
            Some((_, b)) => quote!(.buckets(::std::vec![#(#b),*])),
            None => quote!(),
        };
        quote!(::wva_api::metrics::prometheus::HistogramOpts::new(spec.name, spec.help)
            .const_labels(const_labels) #buckets)
    } else {
        quote!(
            ::wva_api::metrics::prometheus::Opts::new(spec.name, spec.help)
                .const_labels(const_labels)
        )
    };
    let create = if m.kind.is_vec() {
        quote!(<::wva_api::metrics::prometheus::#ty>::new(#opts, spec.labels)?)
    } else {
        quote!(<::wva_api::metrics::prometheus::#ty>::with_opts(#opts)?)
    };
    quote! {{
        let spec = &<Self as ::wva_api::metrics::MetricSet>::SPECS[#index];
        let const_labels = ::wva_api::metrics::instance_labels(controller_instance);
        let collector = #create;
        registry.register(::std::boxed::Box::new(collector.clone()))?;
        collector
    }}
}

fn collector_type(kind: Kind) -> TokenStream {
    match kind {
        Kind::Gauge => quote!(Gauge),
        Kind::IntGauge => quote!(IntGauge),
        Kind::Counter => quote!(Counter),
        Kind::IntCounter => quote!(IntCounter),
        Kind::Histogram => quote!(Histogram),
        Kind::GaugeVec => quote!(GaugeVec),
        Kind::IntGaugeVec => quote!(IntGaugeVec),
        Kind::CounterVec => quote!(CounterVec),
        Kind::IntCounterVec => quote!(IntCounterVec),
        Kind::HistogramVec => quote!(HistogramVec),
    }
}

/// An impl that type-checks but does nothing, emitted beside `compile_error!`.
pub fn stub(ident: &syn::Ident) -> TokenStream {
    quote! {
        impl ::wva_api::metrics::MetricSet for #ident {
            const SPECS: &'static [::wva_api::metrics::MetricSpec] = &[];
            fn register(
                _: &::wva_api::metrics::prometheus::Registry,
                _: ::core::option::Option<&str>,
            ) -> ::core::result::Result<Self, ::wva_api::metrics::prometheus::Error> {
                ::core::result::Result::Err(::wva_api::metrics::prometheus::Error::Msg(::std::string::String::new()))
            }
        }
    }
}
