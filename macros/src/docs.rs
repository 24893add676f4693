//! Doc comments as the single description: first paragraph short, the rest long.

/// A doc comment split into its first paragraph and the remaining text.
pub struct Doc {
    /// The first paragraph, joined into one line; empty when there is no doc comment.
    pub summary: String,
    /// Everything after the first blank line: one line per paragraph, paragraphs separated by
    /// a blank line.
    pub details: String,
}

impl Doc {
    /// True when the item has no doc comment (or only blank `///` lines).
    pub fn is_missing(&self) -> bool {
        self.summary.is_empty()
    }
}

/// Reads the `///` lines of `attrs`.
pub fn read(attrs: &[syn::Attribute]) -> Doc {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let mut paragraphs = lines
        .split(String::is_empty)
        .filter(|p| !p.is_empty())
        .map(|p| p.join(" "));
    let summary = paragraphs.next().unwrap_or_default();
    let details = paragraphs.collect::<Vec<_>>().join("\n\n");
    Doc { summary, details }
}
