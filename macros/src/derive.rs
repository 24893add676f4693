//! The one pipeline both derives follow: parse the input into a model, check the model, then
//! expand it, or report every error beside a stub impl.

use crate::ctxt::Ctxt;
use proc_macro2::TokenStream;
use quote::quote;

/// The passes of one derive over its model `M`.
pub struct Passes<M> {
    /// Reads the input into the model. Problems that still leave a model are recorded in the
    /// context; an input that gives no model at all (the wrong kind of item) is the `Err`.
    pub parse: fn(&Ctxt, &syn::DeriveInput) -> syn::Result<M>,
    /// Records every rule the model breaks.
    pub check: fn(&Ctxt, &M),
    /// The full impl of a model that parsed and checked without errors.
    pub expand: fn(&M) -> TokenStream,
    /// An impl that type-checks but does nothing, emitted beside the errors so users see the
    /// real errors instead of a cascade of "trait not implemented" errors.
    pub stub: fn(&syn::Ident) -> TokenStream,
}

/// Runs the derive `passes` on `input`: the full impl, or every error with a stub impl.
pub fn run<M>(passes: &Passes<M>, input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    match generate(passes, &input) {
        Ok(implementation) => implementation,
        Err(errors) => {
            let errors = errors.to_compile_error();
            let stub = (passes.stub)(&input.ident);
            quote!(#errors #stub)
        }
    }
}

/// Parses, checks and expands: every path ends in the full impl or in an error.
fn generate<M>(passes: &Passes<M>, input: &syn::DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = (passes.parse)(&cx, input);
    if let Ok(model) = &model {
        (passes.check)(&cx, model);
    }
    match (model, cx.check()) {
        (Ok(model), Ok(())) => Ok((passes.expand)(&model)),
        (Ok(_), Err(errors)) => Err(errors),
        (Err(fatal), Ok(())) => Err(fatal),
        (Err(fatal), Err(mut errors)) => {
            errors.combine(fatal);
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TokenStream {
        quote!(
            struct S;
        )
    }

    fn no_stub(_: &syn::Ident) -> TokenStream {
        TokenStream::new()
    }

    #[test]
    fn an_input_without_a_model_gives_its_error_and_the_recorded_ones() {
        let passes = Passes::<()> {
            parse: |cx, input| {
                cx.error_spanned_by(&input.ident, "recorded");
                Err(syn::Error::new_spanned(&input.ident, "fatal"))
            },
            check: |_, _| {},
            expand: |_| quote!(unreachable_expansion),
            stub: no_stub,
        };
        let output = run(&passes, input()).to_string();
        assert!(output.contains("\"recorded\""), "{output}");
        assert!(output.contains("\"fatal\""), "{output}");
        assert!(!output.contains("unreachable_expansion"), "{output}");
    }

    #[test]
    fn a_failed_check_gives_the_errors_and_the_stub_never_the_expansion() {
        let passes = Passes::<()> {
            parse: |_, _| Ok(()),
            check: |cx, _| cx.error_spanned_by(quote!(x), "broken rule"),
            expand: |_| quote!(full_impl),
            stub: |_| quote!(stub_impl),
        };
        let output = run(&passes, input()).to_string();
        assert!(output.contains("\"broken rule\""), "{output}");
        assert!(output.contains("stub_impl"), "{output}");
        assert!(!output.contains("full_impl"), "{output}");
    }

    #[test]
    fn a_clean_model_gives_the_full_impl() {
        let passes = Passes::<()> {
            parse: |_, _| Ok(()),
            check: |_, _| {},
            expand: |_| quote!(full_impl),
            stub: no_stub,
        };
        assert_eq!(run(&passes, input()).to_string(), "full_impl");
    }
}
