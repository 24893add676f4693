//! Code generation for `ConfigParams`: the parameter table, the loader and the value dump.

use super::model::{Declaration, Param};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The `Params` impl of a checked declaration, and its typed keys.
pub fn implementation(decl: &Declaration) -> TokenStream {
    let params = params_impl(decl);
    let keys = keys_impl(decl);
    quote!(#params #keys)
}

/// The `Params` impl: the table, the loader and the value dump.
fn params_impl(decl: &Declaration) -> TokenStream {
    let ident = &decl.ident;
    let specs = decl.params.iter().map(|p| spec(p, decl.mutable));
    let fields: Vec<&syn::Ident> = decl.params.iter().map(|p| &p.field).collect();
    let types = decl.params.iter().map(|p| &p.ty);
    let index = 0..decl.params.len();
    let index2 = 0..decl.params.len();
    let rules = decl.rules.as_ref().map(|rules| {
        quote! {
            let broken = ::wva_api::params::rule_errors(#rules(&resolved), sources);
            if !broken.is_empty() {
                return ::core::result::Result::Err(::wva_api::params::LoadError::new(broken));
            }
        }
    });
    quote! {
        impl ::wva_api::params::Params for #ident {
            const SPECS: &'static [::wva_api::params::ParamSpec] = &[#(#specs),*];

            fn resolve(
                sources: &::wva_api::params::Sources,
            ) -> ::core::result::Result<Self, ::wva_api::params::LoadError> {
                let mut errors = ::std::vec::Vec::new();
                #(
                    let #fields = ::wva_api::params::resolve::<#types>(
                        &Self::SPECS[#index], sources, &mut errors,
                    );
                )*
                let (#(::core::option::Option::Some(#fields),)*) = (#(#fields,)*) else {
                    return ::core::result::Result::Err(::wva_api::params::LoadError::new(errors));
                };
                let resolved = Self { #(#fields),* };
                #rules
                ::core::result::Result::Ok(resolved)
            }

            fn values(&self) -> ::std::vec::Vec<::wva_api::params::ParamEntry> {
                ::std::vec![#(
                    ::wva_api::params::ParamEntry::of(&Self::SPECS[#index2], &self.#fields)
                ),*]
            }
        }
    }
}

/// One typed key per field, named like its env var / ConfigMap key: `Self::REST_CLIENT_TIMEOUT`
/// is a `Key<Duration>`, so looking one parameter up is checked by the compiler.
fn keys_impl(decl: &Declaration) -> TokenStream {
    let ident = &decl.ident;
    let keys = decl.params.iter().enumerate().map(|(index, p)| {
        let (vis, ty, field) = (&p.vis, &p.ty, &p.field);
        let name = format_ident!("{}", p.key, span = p.field.span());
        let doc = format!(
            "The typed key of [`{field}`](Self::{field}): env var / ConfigMap key `{}`.",
            p.key
        );
        quote! {
            #[doc = #doc]
            #vis const #name: ::wva_api::params::Key<#ty> = ::wva_api::params::Key::new(
                &<Self as ::wva_api::params::Params>::SPECS[#index],
            );
        }
    });
    quote! {
        // A struct need not look every one of its keys up.
        #[allow(dead_code)]
        impl #ident {
            #(#keys)*
        }
    }
}

fn spec(p: &Param, mutable: bool) -> TokenStream {
    let field = p.field.to_string();
    let key = &p.key;
    let ty = &p.ty;
    let keys = &p.keys;
    let flag = option(keys.flag.clone());
    let short = option(keys.short.as_ref().map(syn::LitChar::value));
    let default = option(keys.default.as_ref().map(syn::LitStr::value));
    let min = option(keys.min.as_ref().map(syn::LitStr::value));
    let max = option(keys.max.as_ref().map(syn::LitStr::value));
    let pending = option(keys.pending.as_ref().map(syn::LitStr::value));
    let required = keys.required.is_some();
    let (env_only, secret) = (keys.env_only, keys.secret);
    let (summary, details) = (&p.doc.summary, &p.doc.details);
    quote! {
        ::wva_api::params::ParamSpec {
            field: #field,
            key: #key,
            flag: #flag,
            short: #short,
            value_type: <#ty as ::wva_api::params::ParamValue>::TYPE_NAME,
            default: #default,
            min: #min,
            max: #max,
            required: #required,
            env_only: #env_only,
            secret: #secret,
            mutable: #mutable,
            pending: #pending,
            summary: #summary,
            details: #details,
        }
    }
}

fn option(value: Option<impl quote::ToTokens>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// An impl that type-checks but does nothing, emitted beside `compile_error!` so that users see
/// the real error instead of a cascade of "trait not implemented" errors.
pub fn stub(ident: &syn::Ident) -> TokenStream {
    quote! {
        impl ::wva_api::params::Params for #ident {
            const SPECS: &'static [::wva_api::params::ParamSpec] = &[];
            fn resolve(
                _: &::wva_api::params::Sources,
            ) -> ::core::result::Result<Self, ::wva_api::params::LoadError> {
                ::core::result::Result::Err(::wva_api::params::LoadError::new(::std::vec::Vec::new()))
            }
            fn values(&self) -> ::std::vec::Vec<::wva_api::params::ParamEntry> {
                ::std::vec::Vec::new()
            }
        }
    }
}
