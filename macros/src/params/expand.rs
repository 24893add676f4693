//! Code generation for `ConfigParams`: the parameter table, the loader and the value dump.

use super::parse::{Declaration, Param};
use proc_macro2::TokenStream;
use quote::quote;

/// The `Params` impl of a checked declaration.
pub fn implementation(decl: &Declaration) -> TokenStream {
    let ident = &decl.ident;
    let specs = decl.params.iter().map(|p| spec(p, decl.mutable));
    let fields: Vec<&syn::Ident> = decl.params.iter().map(|p| &p.field).collect();
    let types = decl.params.iter().map(|p| &p.ty);
    let index = 0..decl.params.len();
    let index2 = 0..decl.params.len();
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
                ::core::result::Result::Ok(Self { #(#fields),* })
            }

            fn values(&self) -> ::std::vec::Vec<::wva_api::params::ParamEntry> {
                ::std::vec![#(
                    ::wva_api::params::ParamEntry::of(&Self::SPECS[#index2], &self.#fields)
                ),*]
            }
        }
    }
}

fn spec(p: &Param, mutable: bool) -> TokenStream {
    let field = p.field.to_string();
    let key = &p.key;
    let ty = &p.ty;
    let flag = option(p.flag.as_deref());
    let short = match p.short {
        Some(c) => quote!(::core::option::Option::Some(#c)),
        None => quote!(::core::option::Option::None),
    };
    let default = option(p.default.as_deref());
    let min = option(p.min.as_deref());
    let pending = option(p.pending.as_deref());
    let (required, env_only, secret) = (p.required, p.env_only, p.secret);
    let (summary, details) = (&p.summary, &p.details);
    quote! {
        ::wva_api::params::ParamSpec {
            field: #field,
            key: #key,
            flag: #flag,
            short: #short,
            value_type: <#ty as ::wva_api::params::ParamValue>::TYPE_NAME,
            default: #default,
            min: #min,
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

fn option(value: Option<&str>) -> TokenStream {
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
