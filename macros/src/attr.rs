//! Parsing `key = value, ...` into raw configurations.
//!
//! Each value is read into its type here (a duration, a list of signals, an `i32`...), with
//! the rules that concern it alone (a `timeout` longer than zero, a non-empty `signals`),
//! and kept with the tokens it was written as, so that later checks can point at it.
//! Unknown keys (with a suggestion), repeated keys and keys without a value are rejected
//! here too. Checks across options live in `check.rs`.

use std::fmt::Display;
use std::time::Duration;

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ExprLit, ExprUnary, Lit, LitStr, Path, Token, UnOp};

use crate::ctxt::Ctxt;
use crate::symbol::{
    self, CRATE, DRAIN_DELAY, DRAIN_TIMEOUT, FLAVOR, FORCE_EXIT, HOOK_ATTR, HOOK_KEYS,
    HOOK_RENAMES, MAIN_ATTR, MAIN_KEYS, MAIN_RENAMES, NAME, ORDER, SIGNALS, Symbol, TIMEOUT,
    UPGRADE, UPGRADE_TIMEOUT, WORKER_THREADS,
};
use graceful_rules::duration;
use graceful_rules::settings::{self, DurationSetting, Named};
use graceful_rules::signal::{self, StopSignal as Signal};

/// A value read from the attribute, and the tokens it was written as.
pub struct Value<T> {
    pub value: T,
    written: TokenStream,
}

impl<T> Value<T> {
    fn new(value: T, written: impl ToTokens) -> Self {
        Value {
            value,
            written: written.into_token_stream(),
        }
    }

    /// An error pointing at the value as written.
    pub fn error(&self, message: impl Display) -> syn::Error {
        syn::Error::new_spanned(&self.written, message)
    }
}

/// The tokio runtime `#[graceful::main]` builds.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    MultiThread,
}

/// `#[graceful::main(...)]` as written.
#[derive(Default)]
pub struct RawMain {
    pub timeout: Option<Value<Duration>>,
    pub drain_timeout: Option<Value<Duration>>,
    pub drain_delay: Option<Value<Duration>>,
    pub signals: Option<Value<Vec<Signal>>>,
    pub force_exit: Option<Value<bool>>,
    pub flavor: Option<Value<Flavor>>,
    pub worker_threads: Option<Value<usize>>,
    pub upgrade: Option<Value<Signal>>,
    pub upgrade_timeout: Option<Value<Duration>>,
    pub krate: Option<Value<Path>>,
}

/// `#[graceful::on_shutdown(...)]` as written.
#[derive(Default)]
pub struct RawHook {
    pub order: Option<Value<i32>>,
    pub timeout: Option<Value<Duration>>,
    pub name: Option<Value<String>>,
    pub krate: Option<Value<Path>>,
}

/// Reads the arguments of `#[graceful::main(...)]`; whatever is wrong goes to `cx`.
pub fn main(args: TokenStream, cx: &mut Ctxt) -> RawMain {
    let mut raw = RawMain::default();
    read(args, &MAIN, cx, |key, value, cx| match key {
        TIMEOUT => raw.timeout = cx.ok(timeout(value)),
        DRAIN_TIMEOUT => raw.drain_timeout = cx.ok(duration(key, value)),
        DRAIN_DELAY => raw.drain_delay = cx.ok(duration(key, value)),
        SIGNALS => raw.signals = cx.ok(signals(value)),
        FORCE_EXIT => raw.force_exit = cx.ok(boolean(key, value)),
        FLAVOR => raw.flavor = cx.ok(flavor(value)),
        WORKER_THREADS => raw.worker_threads = cx.ok(worker_threads(value)),
        UPGRADE => raw.upgrade = cx.ok(upgrade(value)),
        UPGRADE_TIMEOUT => raw.upgrade_timeout = cx.ok(upgrade_timeout(value)),
        CRATE => raw.krate = cx.ok(crate_path(value)),
        _ => unreachable!("`read` passes only keys of `#[graceful::main]`"),
    });
    raw
}

/// Reads the arguments of `#[graceful::on_shutdown(...)]`; whatever is wrong goes to `cx`.
pub fn hook(args: TokenStream, cx: &mut Ctxt) -> RawHook {
    let mut raw = RawHook::default();
    read(args, &HOOK, cx, |key, value, cx| match key {
        ORDER => raw.order = cx.ok(order(value)),
        TIMEOUT => raw.timeout = cx.ok(positive(key, DurationSetting::HookTimeout, value)),
        NAME => raw.name = cx.ok(name(value)),
        CRATE => raw.krate = cx.ok(crate_path(value)),
        _ => unreachable!("`read` passes only keys of `#[graceful::on_shutdown]`"),
    });
    raw
}

/// What an attribute accepts, for the key checks and their messages.
struct Attr {
    name: &'static str,
    keys: &'static [Symbol],
    renames: &'static [(&'static str, Symbol)],
    /// The other attribute, to recognise its options used here by mistake.
    other: (&'static str, &'static [Symbol]),
}

const MAIN: Attr = Attr {
    name: MAIN_ATTR,
    keys: MAIN_KEYS,
    renames: MAIN_RENAMES,
    other: (HOOK_ATTR, HOOK_KEYS),
};

const HOOK: Attr = Attr {
    name: HOOK_ATTR,
    keys: HOOK_KEYS,
    renames: HOOK_RENAMES,
    other: (MAIN_ATTR, MAIN_KEYS),
};

/// One `key` or `key = value`.
struct Arg {
    key: Ident,
    value: Option<(Token![=], Expr)>,
}

/// Hands each known, first-seen key and its value to `read_value`, in the order written (so
/// that errors come in that order too). Syntax errors, unknown keys, repeated keys and keys
/// without a value are reported to `cx` instead.
fn read(
    args: TokenStream,
    attr: &Attr,
    cx: &mut Ctxt,
    mut read_value: impl FnMut(Symbol, &Expr, &mut Ctxt),
) {
    let parser = |input: ParseStream| parse_args(input, attr);
    let Some(args) = cx.ok(parser.parse2(args)) else {
        return;
    };
    let mut seen = Vec::new();
    for Arg { key, value } in args {
        let name = key.unraw();
        let Some(&symbol) = attr.keys.iter().find(|&symbol| name == *symbol) else {
            cx.error_spanned_by(&key, unknown_key(&name.to_string(), attr));
            continue;
        };
        if seen.contains(&symbol) {
            let (eq, value) = value.unzip();
            cx.error_spanned_by(
                quote!(#key #eq #value),
                format!("`{symbol}` is set more than once; keep one"),
            );
            continue;
        }
        seen.push(symbol);
        match value {
            Some((_, value)) => read_value(symbol, &value, cx),
            None => cx.error_spanned_by(
                &key,
                format!("`{symbol}` needs a value, e.g. `{}`", symbol.example()),
            ),
        }
    }
}

fn parse_args(input: ParseStream, attr: &Attr) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!(
                "expected an option such as `{}`; `{}` accepts {}",
                attr.keys[0].example(),
                attr.name,
                symbol::list(attr.keys)
            )));
        }
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            let eq: Token![=] = input.parse()?;
            let written = input.fork();
            let value = input
                .parse()
                .map_err(|error| not_a_value(&key, eq, &written, error, attr))?;
            Some((eq, value))
        } else {
            None
        };
        args.push(Arg { key, value });
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            let message = match &args[args.len() - 1] {
                Arg { key, value: None } => format!("expected `=` after `{key}`"),
                Arg { value: Some(_), .. } => "expected `,` between options".to_owned(),
            };
            return Err(input.error(format!(
                "{message}, as in `{}, {}`",
                attr.keys[0].example(),
                attr.keys[1].example()
            )));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// A value that is no expression, such as `timeout =` at the end or `timeout = 'a`: syn's
/// error alone would be at the end of the arguments (the whole attribute, for the compiler),
/// so this one spans from the key to the end, and says what a value looks like.
fn not_a_value(
    key: &Ident,
    eq: Token![=],
    written: ParseStream,
    error: syn::Error,
    attr: &Attr,
) -> syn::Error {
    let name = key.unraw();
    let example = attr
        .keys
        .iter()
        .find(|&symbol| name == *symbol)
        .unwrap_or(&attr.keys[0])
        .example();
    let rest: TokenStream = written.parse().unwrap_or_default();
    syn::Error::new_spanned(
        quote!(#key #eq #rest),
        format!("expected a value after `{name} =`, such as `{example}` ({error})"),
    )
}

/// The message for a key `attr` does not accept: what was probably meant, and the list.
fn unknown_key(name: &str, attr: &Attr) -> String {
    let expected = format!("expected one of {}", symbol::list(attr.keys));
    let (other_attr, other_keys) = attr.other;
    if let Some(symbol) = other_keys.iter().find(|symbol| symbol.name() == name) {
        return format!(
            "`{symbol}` is an option of `{other_attr}`, not of `{}`; {expected}",
            attr.name
        );
    }
    if attr.keys.contains(&FLAVOR) && matches!(name, "current_thread" | "multi_thread") {
        return format!("unknown option `{name}`: write `flavor = \"{name}\"`");
    }
    match suggestion(name, attr) {
        Some(symbol) => format!(
            "unknown option `{name}`: did you mean `{symbol}`, as in `{}`? {expected}",
            symbol.example()
        ),
        None => format!("unknown option `{name}`; {expected}"),
    }
}

/// A renamed or misspelled key's right name.
fn suggestion(name: &str, attr: &Attr) -> Option<Symbol> {
    let lower = name.to_ascii_lowercase();
    if let Some(&(_, symbol)) = attr.renames.iter().find(|(old, _)| *old == lower) {
        return Some(symbol);
    }
    attr.keys
        .iter()
        .map(|&symbol| (edit_distance(&lower, symbol.name()), symbol))
        .filter(|&(distance, symbol)| distance <= (symbol.name().len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, symbol)| symbol)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `expr` without the invisible groups a `macro_rules!` may wrap it in.
fn peel(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

fn string(key: Symbol, value: &Expr) -> syn::Result<LitStr> {
    match peel(value) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` must be a string literal, such as `{}`",
                key.example()
            ),
        )),
    }
}

fn duration(key: Symbol, value: &Expr) -> syn::Result<Value<Duration>> {
    let lit = string(key, value)?;
    match duration::parse(&lit.value()) {
        Ok(duration) => Ok(Value::new(duration, lit)),
        Err(error) => Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid duration {}: {error}; write e.g. `{}`, `\"500ms\"` or `\"1m 30s\"`",
                lit.token(),
                key.example()
            ),
        )),
    }
}

fn timeout(value: &Expr) -> syn::Result<Value<Duration>> {
    positive(TIMEOUT, DurationSetting::Timeout, value)
}

fn upgrade_timeout(value: &Expr) -> syn::Result<Value<Duration>> {
    positive(UPGRADE_TIMEOUT, DurationSetting::UpgradeTimeout, value)
}

/// A duration that `setting` may not leave at zero.
fn positive(key: Symbol, setting: DurationSetting, value: &Expr) -> syn::Result<Value<Duration>> {
    let duration = duration(key, value)?;
    let name = format!("`{key}`");
    settings::duration(setting, Named::new(&name, duration.value))
        .map_err(|message| duration.error(format!("{message}; write e.g. `{}`", key.example())))?;
    Ok(duration)
}

fn upgrade(value: &Expr) -> syn::Result<Value<Signal>> {
    match peel(value) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => signal::lookup_upgrade(&lit.value())
            .map(|signal| Value::new(signal, lit))
            .map_err(|message| syn::Error::new(lit.span(), message)),
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "`upgrade` is one signal, written as a string literal: `{}`",
                UPGRADE.example()
            ),
        )),
    }
}

fn name(value: &Expr) -> syn::Result<Value<String>> {
    let lit = string(NAME, value)?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "`name` must not be empty: it names the hook in logs and in the report; remove it to use `module::path::fn_name`",
        ));
    }
    Ok(Value::new(lit.value(), lit))
}

fn signals(value: &Expr) -> syn::Result<Value<Vec<Signal>>> {
    let array = match peel(value) {
        Expr::Array(array) => array,
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "`signals` must be an array, even of one signal: write `signals = [{}]`",
                    lit.token()
                ),
            ));
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "`signals` must be an array of signal names, such as `{}`",
                    SIGNALS.example()
                ),
            ));
        }
    };
    if array.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            array,
            "`signals` is empty, so no signal would start the shutdown; list at least one, e.g. `signals = [\"SIGTERM\"]`, or remove `signals` to keep SIGINT and SIGTERM",
        ));
    }
    let mut cx = Ctxt::new();
    let mut signals = Vec::new();
    for element in &array.elems {
        let signal = match peel(element) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => {
                signal::lookup(&lit.value()).map_err(|message| syn::Error::new(lit.span(), message))
            }
            _ => Err(syn::Error::new_spanned(
                element,
                "a signal is written as a string literal, such as `\"SIGTERM\"`",
            )),
        };
        // A signal listed twice is listened to once.
        match cx.ok(signal) {
            Some(signal) if !signals.contains(&signal) => signals.push(signal),
            _ => {}
        }
    }
    cx.check()?;
    Ok(Value::new(signals, array))
}

fn boolean(key: Symbol, value: &Expr) -> syn::Result<Value<bool>> {
    match peel(value) {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Ok(Value::new(lit.value, value)),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) if matches!(lit.value().as_str(), "true" | "false") => Err(syn::Error::new(
            lit.span(),
            format!(
                "`{key}` takes a bool, not a string: write `{key} = {}`",
                lit.value()
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` must be `true` or `false`, such as `{}`",
                key.example()
            ),
        )),
    }
}

fn flavor(value: &Expr) -> syn::Result<Value<Flavor>> {
    let lit = string(FLAVOR, value)?;
    let written = lit.value();
    match written.as_str() {
        "current_thread" => return Ok(Value::new(Flavor::CurrentThread, lit)),
        "multi_thread" => return Ok(Value::new(Flavor::MultiThread, lit)),
        _ => {}
    }
    let normalized = written.to_ascii_lowercase().replace('-', "_");
    let guess = if ["current", "single", "basic", "local"]
        .iter()
        .any(|word| normalized.contains(word))
    {
        Some("current_thread")
    } else if ["multi", "thread"]
        .iter()
        .any(|word| normalized.contains(word))
    {
        Some("multi_thread")
    } else {
        None
    };
    let message = match guess {
        Some(guess) => format!("unknown runtime flavor `{written}`: did you mean `\"{guess}\"`?"),
        None => format!(
            "unknown runtime flavor `{written}`; expected `\"current_thread\"` or `\"multi_thread\"`"
        ),
    };
    Err(syn::Error::new(lit.span(), message))
}

fn worker_threads(value: &Expr) -> syn::Result<Value<usize>> {
    match peel(value) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => match lit.base10_parse::<usize>() {
            Ok(threads) => {
                let name = format!("`{WORKER_THREADS}`");
                settings::worker_threads(Named::new(&name, threads), None)
                    .map_err(|message| syn::Error::new(lit.span(), message))?;
                Ok(Value::new(threads, lit))
            }
            Err(_) => Err(syn::Error::new(
                lit.span(),
                "`worker_threads` is out of range for a `usize`",
            )),
        },
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "`worker_threads` must be an integer literal, such as `{}`",
                WORKER_THREADS.example()
            ),
        )),
    }
}

fn crate_path(value: &Expr) -> syn::Result<Value<Path>> {
    let lit = string(CRATE, value)?;
    match lit.parse::<Path>() {
        Ok(path) => Ok(Value::new(path, lit)),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            format!(
                "`crate` must be the path to the `graceful` crate, such as `{}`",
                CRATE.example()
            ),
        )),
    }
}

fn order(value: &Expr) -> syn::Result<Value<i32>> {
    let not_integer = || {
        syn::Error::new_spanned(
            value,
            format!(
                "`order` must be an integer literal such as `{}`",
                ORDER.example()
            ),
        )
    };
    let (negative, lit) = match peel(value) {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => (false, lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match peel(expr) {
            Expr::Lit(ExprLit {
                lit: Lit::Int(lit), ..
            }) => (true, lit),
            _ => return Err(not_integer()),
        },
        _ => return Err(not_integer()),
    };
    if !matches!(lit.suffix(), "" | "i32") {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`order` is an `i32`: write `order = {}` without the `{}` suffix",
                lit.base10_digits(),
                lit.suffix()
            ),
        ));
    }
    let out_of_range = || {
        syn::Error::new_spanned(
            value,
            format!(
                "`order` must fit in an `i32`, from {} to {}",
                i32::MIN,
                i32::MAX
            ),
        )
    };
    let magnitude = lit.base10_parse::<i64>().map_err(|_| out_of_range())?;
    let order = if negative { -magnitude } else { magnitude };
    let order = i32::try_from(order).map_err(|_| out_of_range())?;
    Ok(Value::new(order, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert!(suggestion("priority", &HOOK) == Some(ORDER));
        assert!(suggestion("threads", &MAIN) == Some(WORKER_THREADS));
        assert!(suggestion("timout", &MAIN) == Some(TIMEOUT));
        assert!(suggestion("flavour", &MAIN) == Some(FLAVOR));
        assert!(suggestion("Order", &HOOK) == Some(ORDER));
        assert!(suggestion("drain_delays", &MAIN) == Some(DRAIN_DELAY));
        assert!(suggestion("colour", &HOOK).is_none());
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("order", "order"), 0);
    }
}
