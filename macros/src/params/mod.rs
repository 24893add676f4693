//! `#[derive(ConfigParams)]`: parse the declaration, check it, generate the table and loader.

mod expand;
mod parse;
mod types;

use proc_macro2::TokenStream;

/// Entry point of the derive.
pub fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let cx = crate::ctxt::Ctxt::default();
    let decl = parse::declaration(&cx, &input);
    match (cx.check(), decl) {
        (Ok(()), Some(decl)) => expand::implementation(&decl),
        (Err(errors), _) => {
            let stub = expand::stub(&input.ident);
            quote::quote!(#errors #stub)
        }
        (Ok(()), None) => expand::stub(&input.ident),
    }
}
