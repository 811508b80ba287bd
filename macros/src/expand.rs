//! Code generation. The user's function is always emitted unchanged; around it, a few
//! lines over the public `graceful::Builder` (for `main`) or one `inventory` submission
//! (for a hook), reaching everything through `#krate::__private`.
//!
//! Calls whose types the compiler checks against the user's signature (the parameter, the
//! return type) carry the span of that part of the signature, so that a type error lands
//! on the user's code rather than on the attribute.

use std::time::Duration;

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::{Ident, ReturnType, Signature};

use crate::attr::Flavor;
use crate::check::{self, HookConfig, MainConfig};
use crate::item::ItemFn;

/// ```text
/// fn main() {
///     async fn main(shutdown: graceful::Shutdown) -> Result<(), E> { .. }  // unchanged
///     ::graceful::Builder::new()
///         .timeout(::core::time::Duration::from_secs(20))
///         .run(|__shutdown| main(::graceful::__private::MainArg::from_shutdown(__shutdown)))
/// }
/// ```
pub fn main(item: &TokenStream, function: &ItemFn, config: &MainConfig) -> TokenStream {
    let krate = &config.krate;
    let mut builder = quote!(#krate::Builder::new());
    if let Some(timeout) = config.timeout {
        let timeout = duration(timeout);
        builder.extend(quote!(.timeout(#timeout)));
    }
    if let Some(drain_timeout) = config.drain_timeout {
        let drain_timeout = duration(drain_timeout);
        builder.extend(quote!(.drain_timeout(#drain_timeout)));
    }
    if let Some(drain_delay) = config.drain_delay {
        let drain_delay = duration(drain_delay);
        builder.extend(quote!(.drain_delay(#drain_delay)));
    }
    if let Some(signals) = &config.signals {
        let names = signals
            .iter()
            .map(|signal| Ident::new(signal.name(), Span::call_site()));
        builder.extend(quote!(.signals([#(#krate::Signal::#names),*])));
    }
    if let Some(force_exit) = config.force_exit {
        builder.extend(quote!(.force_exit(#force_exit)));
    }
    if let Some(upgrade) = config.upgrade {
        let name = Ident::new(upgrade.name(), Span::call_site());
        builder.extend(quote!(.upgrade(#krate::Signal::#name)));
    }
    if let Some(upgrade_timeout) = config.upgrade_timeout {
        let upgrade_timeout = duration(upgrade_timeout);
        builder.extend(quote!(.upgrade_timeout(#upgrade_timeout)));
    }
    if let Some(flavor) = config.flavor {
        let flavor = match flavor {
            Flavor::CurrentThread => quote!(CurrentThread),
            Flavor::MultiThread => quote!(MultiThread),
        };
        builder.extend(quote!(.flavor(#krate::Flavor::#flavor)));
    }
    if let Some(threads) = config.worker_threads {
        let threads = proc_macro2::Literal::usize_unsuffixed(threads);
        builder.extend(quote!(.worker_threads(#threads)));
    }

    let sig = &function.sig;
    let ident = &sig.ident;
    let arg = check::param(sig).map(|ty| {
        let from_shutdown = quote!(#krate::__private::MainArg::from_shutdown);
        call_at(ty, from_shutdown, quote!(__shutdown))
    });
    // `run` requires `MainOutput` of the output: its error belongs on the return type.
    let (output_start, _) = first_and_last(output(sig));
    let run = quote_spanned!(output_start=> run);
    builder.extend(quote!(.#run(|__shutdown| #ident(#arg))));

    wrap_main(item, function, &builder)
}

/// `main`'s item, with errors: the function is still emitted (inside a plain `fn main()` so
/// that no "`main` function not found" or "`main` cannot be async" error follows), so
/// that the IDE keeps working on its body.
pub fn main_with_errors(
    item: &TokenStream,
    function: Option<&ItemFn>,
    errors: syn::Error,
) -> TokenStream {
    let mut tokens = match function {
        Some(function) if function.sig.receiver().is_none() => {
            wrap_main(item, function, &TokenStream::new())
        }
        _ => item.clone(),
    };
    tokens.extend(errors.into_compile_error());
    tokens
}

fn wrap_main(item: &TokenStream, function: &ItemFn, body: &TokenStream) -> TokenStream {
    let ItemFn { attrs, vis, sig } = function;
    let ident = &sig.ident;
    // `#[cfg]` must remove the generated function along with the user's, and a `pub` one
    // keeps its docs (for `missing_docs`); every attribute stays on the user's function.
    let outer = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("doc"));
    quote! {
        #(#outer)*
        #vis fn #ident() {
            #item
            #body
        }
    }
}

/// ```text
/// async fn flush(ctx: HookContext) -> R { .. }  // unchanged
/// #[doc(hidden)]
/// const _: () = {
///     fn __graceful_hook(__ctx: ::graceful::HookContext) -> ::graceful::__private::BoxFuture {
///         ::graceful::__private::box_hook(flush(::graceful::__private::HookArg::from_context(__ctx)))
///     }
///     ::graceful::__private::inventory::submit! {
///         ::graceful::__private::StaticHook::new(10, "..", None, ::graceful::__private::HookFn::Async(__graceful_hook))
///     }
/// };
/// ```
pub fn hook(item: &TokenStream, function: &ItemFn, config: &HookConfig) -> TokenStream {
    let krate = &config.krate;
    let sig = &function.sig;
    let ident = &sig.ident;

    let arg = match check::param(sig) {
        Some(ty) => {
            let from_context = quote!(#krate::__private::HookArg::from_context);
            call_at(ty, from_context, quote!(__ctx))
        }
        None => quote!(),
    };
    let ignore_ctx = check::param(sig).is_none().then(|| quote!(let _ = __ctx;));
    let (hook_output, convert, kind) = if sig.asyncness.is_some() {
        (
            quote!(#krate::__private::BoxFuture),
            quote!(#krate::__private::box_hook),
            quote!(Async),
        )
    } else {
        (
            quote!(#krate::__private::HookResult),
            quote!(#krate::__private::blocking_result),
            quote!(Blocking),
        )
    };
    // `box_hook` and `blocking_result` require `Fallible` of the output (and
    // `box_hook` a `Send` future): their errors belong on the return type.
    let call = call_at(output(sig), quote!(#ident), arg);
    let call = call_at(output(sig), convert, call);

    let order = config.order;
    let order = if order < 0 {
        let magnitude = proc_macro2::Literal::u32_unsuffixed(order.unsigned_abs());
        quote!(-#magnitude)
    } else {
        proc_macro2::Literal::i32_unsuffixed(order).into_token_stream()
    };
    let name = match &config.name {
        Some(name) => quote!(#name),
        None => {
            let fn_name = ident.unraw().to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #fn_name))
        }
    };
    let timeout = match config.timeout {
        Some(timeout) => {
            let timeout = duration(timeout);
            quote!(::core::option::Option::Some(#timeout))
        }
        None => quote!(::core::option::Option::None),
    };

    quote! {
        #item
        #[doc(hidden)]
        const _: () = {
            fn __graceful_hook(__ctx: #krate::HookContext) -> #hook_output {
                #ignore_ctx
                #call
            }
            #krate::__private::inventory::submit! {
                #krate::__private::StaticHook::new(
                    #order,
                    #name,
                    #timeout,
                    #krate::__private::HookFn::#kind(__graceful_hook),
                )
            }
        };
    }
}

/// A hook's item, with errors: emitted unchanged, registered nowhere.
pub fn hook_with_errors(item: &TokenStream, errors: syn::Error) -> TokenStream {
    let mut tokens = item.clone();
    tokens.extend(errors.into_compile_error());
    tokens
}

/// The most readable `Duration` constructor that is exact.
fn duration(duration: Duration) -> TokenStream {
    let nanos = duration.as_nanos();
    let exact = |per_unit: u128| {
        (nanos % per_unit == 0)
            .then(|| u64::try_from(nanos / per_unit).ok())
            .flatten()
            .map(proc_macro2::Literal::u64_unsuffixed)
    };
    if let Some(secs) = exact(1_000_000_000) {
        quote!(::core::time::Duration::from_secs(#secs))
    } else if let Some(millis) = exact(1_000_000) {
        quote!(::core::time::Duration::from_millis(#millis))
    } else if let Some(micros) = exact(1_000) {
        quote!(::core::time::Duration::from_micros(#micros))
    } else if let Some(nanos) = exact(1) {
        quote!(::core::time::Duration::from_nanos(#nanos))
    } else {
        let secs = proc_macro2::Literal::u64_unsuffixed(duration.as_secs());
        let subsec = proc_macro2::Literal::u32_unsuffixed(duration.subsec_nanos());
        quote!(::core::time::Duration::new(#secs, #subsec))
    }
}

/// `path(args)`, spanned from `culprit`'s first token to its last (keeping the macro's
/// hygiene), so that the compiler reports a type error in the call on `culprit`. The path
/// is respanned token by token, since an interpolated `#krate` keeps its own spans.
fn call_at(culprit: &dyn ToTokens, path: TokenStream, args: TokenStream) -> TokenStream {
    let (first, last) = first_and_last(culprit);
    let path = respan(path, first);
    quote_spanned!(last=> #path(#args))
}

/// The spans of the first and last tokens of `tokens`, with the macro's hygiene.
fn first_and_last(tokens: &dyn ToTokens) -> (Span, Span) {
    let mut tokens = tokens.to_token_stream().into_iter();
    let first = tokens
        .next()
        .map_or_else(Span::call_site, |token| token.span());
    let last = tokens.last().map_or(first, |token| token.span());
    (
        Span::call_site().located_at(first),
        Span::call_site().located_at(last),
    )
}

/// What a type error about the function's output should point at: the return type, or
/// the function's name when none is written.
fn output(sig: &Signature) -> &dyn ToTokens {
    match &sig.output {
        ReturnType::Type(_, ty) => ty,
        ReturnType::Default => &sig.ident,
    }
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = respanned.into();
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(duration: Duration) -> String {
        super::duration(duration).to_string().replace(' ', "")
    }

    #[test]
    fn durations_use_the_most_readable_exact_constructor() {
        assert_eq!(
            emitted(Duration::from_secs(20)),
            "::core::time::Duration::from_secs(20)"
        );
        assert_eq!(
            emitted(Duration::from_millis(1_500)),
            "::core::time::Duration::from_millis(1500)"
        );
        assert_eq!(
            emitted(Duration::from_nanos(7)),
            "::core::time::Duration::from_nanos(7)"
        );
    }

    /// Each constructor takes a `u64` it cannot overflow; a duration too long for any of
    /// them in one unit is written as seconds and nanoseconds, which `Duration::new` cannot
    /// overflow either, since the nanoseconds are below one second.
    #[test]
    fn huge_durations_are_emitted_exactly_without_arithmetic() {
        assert_eq!(
            emitted(Duration::from_secs(5_000_000_000_000)),
            "::core::time::Duration::from_secs(5000000000000)"
        );
        assert_eq!(
            emitted(Duration::from_secs(u64::MAX)),
            "::core::time::Duration::from_secs(18446744073709551615)"
        );
        assert_eq!(
            emitted(Duration::new(5_000_000_000_000, 1)),
            "::core::time::Duration::new(5000000000000,1)"
        );
        assert_eq!(
            emitted(Duration::MAX),
            "::core::time::Duration::new(18446744073709551615,999999999)"
        );
    }
}
