//! Property tests: the two attributes, given random arguments and random items, never panic
//! (a panic is an unreadable compile error). Each returns either its expansion or the user's
//! item with `compile_error!`s, each with a message and pointed at the input.
//!
//! The inputs are token streams as the compiler hands them over: known keys of both
//! attributes, unknown identifiers, `=`, commas and other separators, literals of every kind,
//! arrays, paths, groups (invisible ones too, as `macro_rules!` makes), missing values and
//! repeated keys; and functions with random signatures, or other items.
//!
//! 256 cases per property in `cargo test`; `PROPTEST_CASES=100000` runs more.

use std::str::FromStr;
use std::time::Duration;

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};
use proptest::prelude::*;

use crate::hook_attr::on_shutdown;
use crate::main_attr::main;

/// A piece of input: text, lexed as the compiler would (so that its tokens have a place), or
/// an invisible group around pieces.
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Invisible(Vec<Piece>),
}

fn text(text: impl Into<String>) -> Piece {
    Piece::Text(text.into())
}

fn tokens(pieces: &[Piece]) -> TokenStream {
    let mut stream = TokenStream::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => stream.extend(
                TokenStream::from_str(text).unwrap_or_else(|_| panic!("does not lex: {text}")),
            ),
            Piece::Invisible(inner) => {
                let mut group = Group::new(Delimiter::None, tokens(inner));
                // Placed at its first token, as the compiler places it.
                if let Some(first) = tokens(inner).into_iter().next() {
                    group.set_span(first.span());
                }
                stream.extend([TokenTree::Group(group)]);
            }
        }
    }
    stream
}

const KEYS: &[&str] = &[
    "timeout",
    "drain_timeout",
    "drain_delay",
    "signals",
    "force_exit",
    "flavor",
    "worker_threads",
    "upgrade",
    "upgrade_timeout",
    "crate",
    "order",
    "name",
    "r#timeout",
    "threads",
    "priority",
    "current_thread",
    "self",
    "async",
    "Timeout",
    "_",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_][a-zA-Z0-9_]{0,12}".prop_filter("a keyword that is no identifier", |word| {
            syn::parse_str::<syn::Ident>(word).is_ok()
        }),
    ]
}

/// A duration as a user might write it, right or wrong.
fn duration_text() -> impl Strategy<Value = String> {
    let part = (
        prop_oneof![
            Just("0".to_owned()),
            (1u64..1_000).prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            "[0-9]{1,3}\\.[0-9]{1,12}",
            "9{15,30}",
        ],
        prop::sample::select(
            &[
                "s",
                "ms",
                "us",
                "\u{b5}s",
                "ns",
                "m",
                "h",
                "d",
                "w",
                "M",
                "y",
                "secs",
                "min",
                "",
                "x",
                "\u{3bc}s",
                "fortnights",
            ][..],
        ),
        prop::sample::select(&["", " ", "  "][..]),
    )
        .prop_map(|(number, unit, gap)| format!("{number}{unit}{gap}"));
    prop_oneof![
        4 => prop::collection::vec(part, 1..4).prop_map(|parts| parts.concat()),
        1 => any::<String>(),
        1 => Just(String::new()),
    ]
}

fn string_content() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => duration_text(),
        2 => prop::sample::select(
            &[
                "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR2", "CTRL_C", "sigterm", "KILL", "SIGCHLD",
                "SIGSEGV", "current_thread", "multi_thread", "single", "true", "false",
                "my::graceful", "::graceful", "a::", "", " ", "flush metrics",
            ][..],
        )
        .prop_map(str::to_owned),
        2 => any::<String>(),
    ]
}

/// A literal of any kind, as written.
fn literal() -> impl Strategy<Value = String> {
    let suffix = prop::sample::select(
        &[
            "", "", "", "u8", "i32", "i64", "u64", "usize", "isize", "u128", "f32", "zz",
        ][..],
    );
    prop_oneof![
        12 => string_content().prop_map(|s| Literal::string(&s).to_string()),
        1 => string_content()
            .prop_filter("fits a raw string", |s| !s.contains("\"#"))
            .prop_map(|s| format!("r#\"{s}\"#")),
        2 => (any::<u128>(), suffix.clone()).prop_map(|(n, suffix)| format!("{n}{suffix}")),
        2 => (0u32..100, suffix).prop_map(|(n, suffix)| format!("{n}{suffix}")),
        1 => "[1-9][0-9]{20,45}",
        1 => prop::sample::select(&["0xff", "0b101", "0o7", "1_000", "0x8000_0000", "2147483648"][..])
            .prop_map(str::to_owned),
        1 => any::<f64>()
            .prop_filter("finite", |f| f.is_finite() && *f >= 0.0)
            .prop_map(|f| format!("{f:?}")),
        1 => prop::sample::select(&["1.5", "1e10", "1.5f32", "0.0", "1e400", "2.5e-3f64"][..])
            .prop_map(str::to_owned),
        1 => prop::sample::select(&["true", "false"][..]).prop_map(str::to_owned),
        1 => any::<char>().prop_map(|c| Literal::character(c).to_string()),
        1 => any::<Vec<u8>>().prop_map(|bytes| Literal::byte_string(&bytes).to_string()),
        1 => any::<u8>().prop_map(|byte| format!("b'\\x{byte:02x}'")),
        1 => "[a-z ]{0,8}".prop_map(|s| format!("c\"{s}\"")),
    ]
}

/// A value: a literal, an array, a path, a negated or parenthesised value, an invisible group.
fn value() -> impl Strategy<Value = Vec<Piece>> {
    let leaf = prop_oneof![
        8 => literal().prop_map(|lit| vec![text(lit)]),
        1 => prop::sample::select(
            &["my::graceful", "::graceful", "Signal::SIGTERM", "x", "None", "..", "'a", "!"][..],
        )
        .prop_map(|path| vec![text(path)]),
    ];
    let nested = leaf.clone().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            2 => prop::collection::vec((inner.clone(), any::<bool>()), 0..5).prop_map(|elements| {
                let mut pieces = vec![];
                for (element, comma) in elements {
                    pieces.extend(element);
                    if comma {
                        pieces.push(text(","));
                    }
                }
                group('[', ']', pieces)
            }),
            1 => inner.clone().prop_map(|value| [vec![text("-")], value].concat()),
            1 => inner.clone().prop_map(|value| group('(', ')', value)),
            1 => inner.clone().prop_map(|value| group('{', '}', value)),
            2 => inner.prop_map(|value| vec![Piece::Invisible(value)]),
        ]
    });
    prop_oneof![2 => leaf, 1 => nested]
}

/// `open pieces close` as pieces that lex: the delimiters must be lexed with what they hold.
fn group(open: char, close: char, pieces: Vec<Piece>) -> Vec<Piece> {
    // Text pieces inside are joined; an invisible group inside stays one by splitting the
    // text around it, which a bracket cannot be: flatten it into its text then.
    let mut joined = String::from(open);
    for piece in pieces {
        joined.push(' ');
        joined.push_str(&flatten(&piece));
    }
    joined.push(' ');
    joined.push(close);
    vec![text(joined)]
}

fn flatten(piece: &Piece) -> String {
    match piece {
        Piece::Text(text) => text.clone(),
        Piece::Invisible(inner) => inner.iter().map(flatten).collect::<Vec<_>>().join(" "),
    }
}

/// One argument, right or wrong: `key = value`, `key`, `key =`, `= value`, a value alone.
fn argument() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        30 => key_value(),
        1 => key().prop_map(|key| vec![text(key)]),
        1 => key().prop_map(|key| vec![text(key), text("=")]),
        1 => value().prop_map(|value| [vec![text("=")], value].concat()),
        1 => value(),
        1 => (key(), value()).prop_map(|(key, value)| [vec![text(key), text(":")], value].concat()),
    ]
}

fn key_value() -> impl Strategy<Value = Vec<Piece>> {
    (key(), value()).prop_map(|(key, value)| [vec![text(key), text("=")], value].concat())
}

/// The arguments of an attribute: half of them well formed (so that their values are read),
/// the others mostly separated by commas, sometimes not.
fn arguments() -> impl Strategy<Value = TokenStream> {
    let separator = prop_oneof![
        40 => Just(","),
        1 => Just(""),
        1 => Just(";"),
        1 => Just(",,"),
        1 => Just("="),
    ];
    let random = prop::collection::vec((argument(), separator), 0..6);
    let well_formed = prop::collection::vec((key_value(), Just(",")), 0..6);
    (prop_oneof![random, well_formed], any::<bool>()).prop_map(|(arguments, trailing)| {
        let mut pieces = Vec::new();
        let count = arguments.len();
        for (i, (argument, separator)) in arguments.into_iter().enumerate() {
            pieces.extend(argument);
            if i + 1 < count || trailing {
                pieces.push(text(separator));
            }
        }
        tokens(&pieces)
    })
}

/// A function with a random signature, most of them ones the attributes refuse; or another
/// item; or tokens that are no item.
fn item() -> impl Strategy<Value = TokenStream> {
    let attrs = prop::sample::subsequence(
        &[
            "#[cfg(test)]",
            "#[doc = \"x\"]",
            "#[inline]",
            "#[allow(unused)]",
        ][..],
        0..3,
    );
    let vis = prop::sample::select(&["", "", "pub", "pub(crate)"][..]);
    let qualifiers = prop::sample::subsequence(
        &["const", "async", "async", "unsafe", "extern \"C\""][..],
        0..4,
    );
    let name = prop::sample::select(&["main", "flush", "r#type", "close_pool"][..]);
    let generics =
        prop::sample::select(&["", "", "", "<T>", "<'a>", "<T: Send>", "<const N: usize>"][..]);
    let params = prop::collection::vec(
        prop::sample::select(
            &[
                "shutdown: graceful::Shutdown",
                "ctx: graceful::HookContext",
                "x: impl Sized",
                "self",
                "&self",
                "mut self: Box<Self>",
                "_: u8",
                "(a, b): (u8, u8)",
                "...",
            ][..],
        ),
        0..3,
    );
    let output = prop::sample::select(
        &[
            "",
            "",
            "-> ()",
            "-> Result<(), E>",
            "-> impl Sized",
            "-> !",
            "-> Self",
        ][..],
    );
    let where_clause = prop::sample::select(&["", "", "", "where T: Send", "where"][..]);
    let body =
        prop::sample::select(&["{}", "{}", "{ x + }", ";", "{ shutdown.cancelled().await }"][..]);
    let function = (
        attrs,
        vis,
        qualifiers,
        name,
        generics,
        params,
        output,
        where_clause,
        body,
    )
        .prop_map(
            |(attrs, vis, qualifiers, name, generics, params, output, where_clause, body)| {
                format!(
                    "{} {vis} {} fn {name}{generics}({}) {output} {where_clause} {body}",
                    attrs.join(" "),
                    qualifiers.join(" "),
                    params.join(", ")
                )
            },
        );
    let other = prop::sample::select(
        &[
            "struct Config;",
            "pub struct Config { a: u8 }",
            "impl Drop for Pool { fn drop(&mut self) {} }",
            "static POOL: u8 = 1;",
            "mod m {}",
            "fn",
            "async fn main",
            "#[test]",
            "trait T { fn f(); }",
            "use x::y;",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![8 => function, 2 => other].prop_map(|item| tokens(&[text(item)]))
}

/// The messages of the `compile_error!`s in `output`, each checked: not empty, and pointed at
/// the input (an error at the call site would cover the whole attribute).
fn errors(output: &TokenStream) -> Result<Vec<String>, TestCaseError> {
    let tokens: Vec<TokenTree> = output.clone().into_iter().collect();
    let mut messages = Vec::new();
    for window in tokens.windows(3) {
        let [
            TokenTree::Ident(ident),
            TokenTree::Punct(bang),
            TokenTree::Group(group),
        ] = window
        else {
            continue;
        };
        if ident != "compile_error" || bang.as_char() != '!' {
            continue;
        }
        let message: syn::LitStr = syn::parse2(group.stream())
            .map_err(|error| TestCaseError::fail(format!("not a message: {error}")))?;
        let message = message.value();
        prop_assert!(!message.trim().is_empty(), "an empty message in {}", output);
        prop_assert!(
            placed(ident.span()),
            "`{}` points at no token of the input",
            message
        );
        messages.push(message);
    }
    Ok(messages)
}

/// Whether `span` is a place in the input, rather than the call site (which is empty, where
/// a token of the input is not).
fn placed(span: Span) -> bool {
    let call_site = Span::call_site();
    (span.start(), span.end()) != (call_site.start(), call_site.end())
}

/// The expansion, or the errors: never both, never neither. An expansion of an item that is
/// valid Rust is valid Rust (the body is the compiler's to check, so not otherwise).
fn check(
    output: &TokenStream,
    expanded: &str,
    item: &TokenStream,
) -> Result<Vec<String>, TestCaseError> {
    let messages = errors(output)?;
    let rendered = output.to_string();
    if messages.is_empty() {
        prop_assert!(
            rendered.contains(expanded),
            "neither expanded nor an error: {}",
            rendered
        );
        if syn::parse2::<syn::Item>(item.clone()).is_ok() {
            syn::parse2::<syn::File>(output.clone())
                .map_err(|error| TestCaseError::fail(format!("{error}: {rendered}")))?;
        }
    } else {
        prop_assert!(
            !rendered.contains(expanded),
            "expanded with errors: {}",
            rendered
        );
    }
    Ok(messages)
}

const MAIN_EXPANDED: &str = "Builder :: new ()";
const HOOK_EXPANDED: &str = "inventory :: submit !";

/// The argument of the `.method(...)` call in `output`, read back as the `Duration` it builds.
fn emitted_duration(output: &TokenStream, method: &str) -> Option<Duration> {
    fn find(stream: TokenStream, method: &str) -> Option<TokenStream> {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        for window in tokens.windows(3) {
            if let [
                TokenTree::Punct(dot),
                TokenTree::Ident(ident),
                TokenTree::Group(args),
            ] = window
            {
                if dot.as_char() == '.' && ident == method {
                    return Some(args.stream());
                }
            }
        }
        tokens.into_iter().find_map(|token| match token {
            TokenTree::Group(group) => find(group.stream(), method),
            _ => None,
        })
    }
    let call: Vec<TokenTree> = find(output.clone(), method)?.into_iter().collect();
    let [.., TokenTree::Ident(constructor), TokenTree::Group(args)] = &call[..] else {
        return None;
    };
    let numbers: Vec<u64> = args
        .stream()
        .into_iter()
        .filter_map(|token| token.to_string().parse().ok())
        .collect();
    Some(match (constructor.to_string().as_str(), &numbers[..]) {
        ("from_secs", &[n]) => Duration::from_secs(n),
        ("from_millis", &[n]) => Duration::from_millis(n),
        ("from_micros", &[n]) => Duration::from_micros(n),
        ("from_nanos", &[n]) => Duration::from_nanos(n),
        ("new", &[secs, nanos]) => Duration::new(secs, u32::try_from(nanos).ok()?),
        _ => return None,
    })
}

proptest! {
    /// `#[graceful::main(random)]` on a random item.
    #[test]
    fn main_never_panics(args in arguments(), item in item()) {
        check(&main(args, item.clone()), MAIN_EXPANDED, &item)?;
    }

    /// `#[graceful::on_shutdown(random)]` on a random item.
    #[test]
    fn on_shutdown_never_panics(args in arguments(), item in item()) {
        check(&on_shutdown(args, item.clone()), HOOK_EXPANDED, &item)?;
    }

    /// Random arguments on a function each attribute accepts: every error is about the
    /// arguments.
    #[test]
    fn random_arguments_on_a_good_function(args in arguments()) {
        let item = tokens(&[text("async fn main() {}")]);
        check(&main(args.clone(), item.clone()), MAIN_EXPANDED, &item)?;
        check(&on_shutdown(args, item.clone()), HOOK_EXPANDED, &item)?;
    }

    /// Any duration `timeout` accepts is emitted exactly; any it refuses is refused with an
    /// error on the literal.
    #[test]
    fn durations_are_emitted_exactly(text in duration_text()) {
        let literal = Literal::string(&text).to_string();
        let args = tokens(&[self::text(format!("timeout = {literal}, upgrade_timeout = {literal}"))]);
        let item = tokens(&[self::text("async fn main() {}")]);
        let output = main(args, item.clone());
        let messages = check(&output, MAIN_EXPANDED, &item)?;
        match graceful_rules::duration::parse(&text) {
            Ok(value) if !value.is_zero() => {
                prop_assert!(messages.is_empty(), "{:?}: {:?}", text, messages);
                prop_assert_eq!(emitted_duration(&output, "timeout"), Some(value));
                prop_assert_eq!(emitted_duration(&output, "upgrade_timeout"), Some(value));
            }
            _ => prop_assert_eq!(messages.len(), 2, "{:?}: {:?}", text, messages),
        }
    }

    /// Any `i32` is an `order`, written plain, negated or in an invisible group.
    #[test]
    fn any_i32_is_an_order(order in any::<i32>(), invisible in any::<bool>(), suffix in any::<bool>()) {
        let magnitude = format!("{}{}", order.unsigned_abs(), if suffix { "i32" } else { "" });
        let value = if order < 0 { vec![text("-"), text(magnitude)] } else { vec![text(magnitude)] };
        let value = if invisible { vec![Piece::Invisible(value)] } else { value };
        let args = tokens(&[vec![text("order"), text("=")], value].concat());
        let item = tokens(&[text("fn close() {}")]);
        let output = on_shutdown(args, item.clone());
        let messages = check(&output, HOOK_EXPANDED, &item)?;
        prop_assert!(messages.is_empty(), "{:?}", messages);
        let written = if order < 0 {
            format!("StaticHook :: new (- {} ,", order.unsigned_abs())
        } else {
            format!("StaticHook :: new ({order} ,")
        };
        prop_assert!(output.to_string().contains(&written), "{}", output);
    }
}

/// Found by the properties above: errors that pointed at no token of the input (so, for the
/// compiler, at the whole attribute), and syn's words alone for a missing value.
#[test]
fn errors_found_at_the_call_site() {
    let cases = [
        (
            "timeout = 'a",
            "async fn main() {}",
            "expected a value after `timeout =`, such as `timeout = \"20s\"`",
        ),
        (
            "timeout =",
            "async fn main() {}",
            "expected a value after `timeout =`",
        ),
        (
            "bogus = ,",
            "async fn main() {}",
            "expected a value after `bogus =`, such as `timeout = \"20s\"`",
        ),
        (
            "",
            "async fn main() where {}",
            "with a `where` clause: remove it",
        ),
    ];
    for (args, item, expected) in cases {
        let item = tokens(&[text(item)]);
        let output = main(tokens(&[text(args)]), item.clone());
        let messages =
            check(&output, MAIN_EXPANDED, &item).unwrap_or_else(|error| panic!("{error}"));
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{args}: {messages:?}"
        );
    }
    let item = tokens(&[text("fn close() where {}")]);
    let output = on_shutdown(TokenStream::new(), item.clone());
    let messages = check(&output, HOOK_EXPANDED, &item).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        messages.iter().any(|m| m.contains("`where` clause")),
        "{messages:?}"
    );
}
