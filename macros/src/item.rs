//! The item an attribute is written on, read just enough to check and call it: its outer
//! attributes, visibility and signature. The body stays unparsed tokens, as in tokio's
//! `entry.rs`: a syntax error inside it is the compiler's to report, once.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Signature, Visibility};

/// What the attribute is on.
pub enum Item {
    Fn(Box<ItemFn>),
    /// Anything but a function with a body; holds the tokens that name it (such as
    /// `pub struct Config`), to put the error on.
    Other(TokenStream),
}

/// A function with a body.
pub struct ItemFn {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
}

/// Reads `tokens` as a function if it is one. Never fails: anything else is [`Item::Other`].
pub fn parse(tokens: &TokenStream) -> Item {
    match parse_fn.parse2(tokens.clone()) {
        Ok(function) => Item::Fn(Box::new(function)),
        Err(_) => Item::Other(head(tokens)),
    }
}

fn parse_fn(input: ParseStream) -> syn::Result<ItemFn> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis = input.parse()?;
    let sig = input.parse()?;
    let body: Group = input.parse()?;
    if body.delimiter() != Delimiter::Brace {
        return Err(syn::Error::new(body.span(), "expected a function body"));
    }
    Ok(ItemFn { attrs, vis, sig })
}

/// The tokens of an item up to its body or `;`, without its attributes: `pub struct Config`,
/// `impl Drop for Pool`, `static POOL: Pool`.
fn head(tokens: &TokenStream) -> TokenStream {
    let mut head = Vec::new();
    let mut iter = tokens.clone().into_iter().peekable();
    while let Some(token) = iter.next() {
        match &token {
            // `#` followed by `[...]`: an attribute, skipped.
            TokenTree::Punct(p) if p.as_char() == '#' && head.is_empty() => {
                if matches!(iter.peek(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket)
                {
                    iter.next();
                }
            }
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | '=') => break,
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => break,
            _ => head.push(token),
        }
    }
    if head.is_empty() {
        tokens.clone()
    } else {
        head.into_iter().collect()
    }
}
