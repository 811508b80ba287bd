//! `#[graceful::on_shutdown]`: parse, check, expand.

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;
use crate::{attr, check, expand, item};

pub fn on_shutdown(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let config = check::hook_config(attr::hook(args, &mut cx));
    let parsed = item::parse(&item);
    let function = check::hook_fn(&parsed, &mut cx);
    match (function, cx.check()) {
        (Some(function), Ok(())) => expand::hook(&item, function, &config),
        (_, result) => expand::hook_with_errors(&item, errors(result)),
    }
}

/// The errors of a failed check. `hook_fn` reports why it returns `None`, so a check that
/// passed always comes with a function.
fn errors(result: syn::Result<()>) -> syn::Error {
    result.expect_err("a function that cannot be expanded has been reported")
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn async_hook_with_context() {
        let expanded = super::on_shutdown(
            quote!(order = 10, timeout = "5s"),
            quote!(
                async fn flush(ctx: graceful::HookContext) -> R {}
            ),
        );
        let expected = quote! {
            async fn flush(ctx: graceful::HookContext) -> R {}
            #[doc(hidden)]
            const _: () = {
                fn __graceful_hook(__ctx: ::graceful::HookContext) -> ::graceful::__private::BoxFuture {
                    ::graceful::__private::box_hook(flush(::graceful::__private::HookArg::from_context(__ctx)))
                }
                ::graceful::__private::inventory::submit! {
                    ::graceful::__private::StaticHook::new(
                        10,
                        ::core::concat!(::core::module_path!(), "::", "flush"),
                        ::core::option::Option::Some(::core::time::Duration::from_secs(5)),
                        ::graceful::__private::HookFn::Async(__graceful_hook),
                    )
                }
            };
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn sync_hook_without_context() {
        let expanded = super::on_shutdown(
            quote!(order = -5, name = "close the log"),
            quote!(
                fn close() {}
            ),
        );
        let expected = quote! {
            fn close() {}
            #[doc(hidden)]
            const _: () = {
                fn __graceful_hook(__ctx: ::graceful::HookContext) -> ::graceful::__private::HookResult {
                    let _ = __ctx;
                    ::graceful::__private::blocking_result(close())
                }
                ::graceful::__private::inventory::submit! {
                    ::graceful::__private::StaticHook::new(
                        -5,
                        "close the log",
                        ::core::option::Option::None,
                        ::graceful::__private::HookFn::Blocking(__graceful_hook),
                    )
                }
            };
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn errors_keep_the_item_unchanged() {
        let item = quote!(
            struct Config;
        );
        let expanded = super::on_shutdown(quote!(order = 1), item.clone()).to_string();
        assert!(expanded.starts_with(&item.to_string()), "{expanded}");
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert!(!expanded.contains("submit"), "{expanded}");
    }
}
