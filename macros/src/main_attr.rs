//! `#[graceful::main]`: parse, check, expand.

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;
use crate::{attr, check, expand, item};

pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let config = check::main_config(attr::main(args, &mut cx), &mut cx);
    let parsed = item::parse(&item);
    let function = check::main_fn(&parsed, &mut cx);
    match (function, cx.check()) {
        (Some(function), Ok(())) => expand::main(&item, function, &config),
        (function, result) => expand::main_with_errors(&item, function, errors(result)),
    }
}

/// The errors of a failed check. `main_fn` reports why it returns `None`, so a check that
/// passed always comes with a function.
fn errors(result: syn::Result<()>) -> syn::Error {
    result.expect_err("a function that cannot be expanded has been reported")
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn expands_to_a_few_builder_calls() {
        let expanded = super::main(
            quote!(timeout = "20s", flavor = "current_thread"),
            quote!(
                async fn main(shutdown: graceful::Shutdown) {}
            ),
        );
        let expected = quote! {
            fn main() {
                async fn main(shutdown: graceful::Shutdown) {}
                ::graceful::Builder::new()
                    .timeout(::core::time::Duration::from_secs(20))
                    .flavor(::graceful::Flavor::CurrentThread)
                    .run(|__shutdown| main(::graceful::__private::MainArg::from_shutdown(__shutdown)))
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn every_option_becomes_a_call() {
        let expanded = super::main(
            quote!(
                timeout = "1m 30s",
                drain_timeout = "1.5s",
                drain_delay = "250us",
                signals = ["SIGINT", "SIGHUP"],
                force_exit = false,
                flavor = "multi_thread",
                worker_threads = 2,
                crate = "my::graceful",
            ),
            quote!(
                pub async fn main() {}
            ),
        );
        let expected = quote! {
            pub fn main() {
                pub async fn main() {}
                my::graceful::Builder::new()
                    .timeout(::core::time::Duration::from_secs(90))
                    .drain_timeout(::core::time::Duration::from_millis(1500))
                    .drain_delay(::core::time::Duration::from_micros(250))
                    .signals([my::graceful::Signal::SIGINT, my::graceful::Signal::SIGHUP])
                    .force_exit(false)
                    .flavor(my::graceful::Flavor::MultiThread)
                    .worker_threads(2)
                    .run(|__shutdown| main())
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn upgrade_options_become_calls() {
        let expanded = super::main(
            quote!(upgrade = "SIGHUP", upgrade_timeout = "1m"),
            quote!(
                async fn main() {}
            ),
        );
        let expected = quote! {
            fn main() {
                async fn main() {}
                ::graceful::Builder::new()
                    .upgrade(::graceful::Signal::SIGHUP)
                    .upgrade_timeout(::core::time::Duration::from_secs(60))
                    .run(|__shutdown| main())
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    #[test]
    fn a_signal_listed_twice_is_emitted_once() {
        let expanded = super::main(
            quote!(signals = ["SIGTERM", "CTRL_C", "SIGTERM", "CTRL_C", "SIGHUP"]),
            quote!(
                async fn main() {}
            ),
        );
        let expected = quote! {
            fn main() {
                async fn main() {}
                ::graceful::Builder::new()
                    .signals([
                        ::graceful::Signal::SIGTERM,
                        ::graceful::Signal::CTRL_C,
                        ::graceful::Signal::SIGHUP
                    ])
                    .run(|__shutdown| main())
            }
        };
        assert_eq!(expanded.to_string(), expected.to_string());
    }

    /// The checks across options compare durations, however large, without arithmetic.
    #[test]
    fn cross_checks_hold_at_the_longest_durations() {
        let expanded = super::main(
            quote!(
                timeout = "18446744073709551615s 999999999ns",
                drain_timeout = "18446744073709551615.999999999s",
                drain_delay = "18446744073709551615s",
            ),
            quote!(
                async fn main() {}
            ),
        )
        .to_string();
        assert!(!expanded.contains("compile_error"), "{expanded}");

        let expanded = super::main(
            quote!(
                timeout = "18446744073709551615s",
                drain_timeout = "18446744073709551615s 1ns",
                drain_delay = "18446744073709551615s",
            ),
            quote!(
                async fn main() {}
            ),
        )
        .to_string();
        assert!(
            expanded.contains("`drain_timeout` (584542046090years 7months 15days 17h 5m 3s 1ns) must not be longer than `timeout` (584542046090years 7months 15days 17h 5m 3s)"),
            "{expanded}"
        );
        assert!(
            expanded
                .contains("`drain_delay` (584542046090years 7months 15days 17h 5m 3s) must be shorter than `timeout`"),
            "{expanded}"
        );
    }

    #[test]
    fn errors_keep_the_function_inside_a_plain_main() {
        let expanded = super::main(
            quote!(timeout = "0s"),
            quote!(
                async fn main() {}
            ),
        )
        .to_string();
        let kept = quote!(
            fn main() {
                async fn main() {}
            }
        )
        .to_string();
        assert!(expanded.starts_with(&kept), "{expanded}");
        assert!(expanded.contains("compile_error"), "{expanded}");
        assert!(!expanded.contains("Builder"), "{expanded}");
    }
}
