//! Checks that need more than one value, or the function: raw configurations in,
//! span-free final configurations out. Everything wrong goes to the `Ctxt`.

use std::time::Duration;

use quote::quote;
use syn::{FnArg, Path, Safety, Signature, Type};

use crate::attr::{Flavor, RawHook, RawMain, Value};
use crate::ctxt::Ctxt;
use graceful_rules::settings::{self, Named};
use graceful_rules::signal::StopSignal as Signal;

use crate::item::{Item, ItemFn};
use crate::symbol::{
    DRAIN_DELAY, DRAIN_TIMEOUT, FLAVOR, HOOK_ATTR, MAIN_ATTR, Symbol, TIMEOUT, WORKER_THREADS,
};

/// `#[graceful::main(...)]`, checked. `None` leaves the setting to `graceful::Builder`.
pub struct MainConfig {
    pub krate: Path,
    pub timeout: Option<Duration>,
    pub drain_timeout: Option<Duration>,
    pub drain_delay: Option<Duration>,
    pub signals: Option<Vec<Signal>>,
    pub force_exit: Option<bool>,
    pub flavor: Option<Flavor>,
    pub worker_threads: Option<usize>,
    pub upgrade: Option<Signal>,
    pub upgrade_timeout: Option<Duration>,
}

/// `#[graceful::on_shutdown(...)]`, checked. A `None` name means `module::path::fn_name`.
pub struct HookConfig {
    pub krate: Path,
    pub order: i32,
    pub timeout: Option<Duration>,
    pub name: Option<String>,
}

pub fn main_config(raw: RawMain, cx: &mut Ctxt) -> MainConfig {
    let quoted = |key: Symbol| format!("`{key}`");
    if let Some(timeout) = &raw.timeout {
        let timeout_name = quoted(TIMEOUT);
        let deadline = Named::new(&timeout_name, timeout.value);
        if let Some(drain) = &raw.drain_timeout {
            let name = quoted(DRAIN_TIMEOUT);
            if let Err(message) = settings::drain_timeout(Named::new(&name, drain.value), deadline)
            {
                cx.syn_error(drain.error(message));
            }
        }
        if let Some(delay) = &raw.drain_delay {
            let name = quoted(DRAIN_DELAY);
            if let Err(message) = settings::drain_delay(Named::new(&name, delay.value), deadline) {
                cx.syn_error(delay.error(message));
            }
        }
    }
    let current_thread = raw.flavor.as_ref().map(|f| f.value) == Some(Flavor::CurrentThread);
    if let Some(threads) = raw.worker_threads.as_ref().filter(|_| current_thread) {
        let name = quoted(WORKER_THREADS);
        let flavor = format!("`{FLAVOR} = \"current_thread\"`");
        if let Err(message) =
            settings::worker_threads(Named::new(&name, threads.value), Some(&flavor))
        {
            cx.syn_error(threads.error(message));
        }
    }
    if let Some(upgrade) = &raw.upgrade {
        let name = format!("`{}`", upgrade.value.name());
        let signals = raw.signals.as_ref().map(|signals| signals.value.as_slice());
        if let Err(message) = settings::upgrade(Named::new(&name, upgrade.value), signals) {
            cx.syn_error(upgrade.error(message));
        }
    }

    MainConfig {
        krate: crate_path(raw.krate),
        timeout: value(raw.timeout),
        drain_timeout: value(raw.drain_timeout),
        drain_delay: value(raw.drain_delay),
        signals: value(raw.signals),
        force_exit: value(raw.force_exit),
        flavor: value(raw.flavor),
        worker_threads: value(raw.worker_threads),
        upgrade: value(raw.upgrade),
        upgrade_timeout: value(raw.upgrade_timeout),
    }
}

/// The hook's options need no cross-field check: each was checked as it was read.
pub fn hook_config(raw: RawHook) -> HookConfig {
    HookConfig {
        krate: crate_path(raw.krate),
        order: value(raw.order).unwrap_or(0),
        timeout: value(raw.timeout),
        name: value(raw.name),
    }
}

/// The function `#[graceful::main]` is on, if it is one it can run.
pub fn main_fn<'a>(item: &'a Item, cx: &mut Ctxt) -> Option<&'a ItemFn> {
    let function = match item {
        Item::Fn(function) => function,
        Item::Other(head) => {
            cx.error_spanned_by(
                head,
                format!("`{MAIN_ATTR}` can only be applied to a function: `async fn main()`"),
            );
            return None;
        }
    };
    let sig = &function.sig;
    if let Some(receiver) = sig.receiver() {
        cx.error_spanned_by(
            receiver,
            format!("`{MAIN_ATTR}` must be on a free function, not a method: remove `self`"),
        );
    }
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration: write `async fn {}()`",
                sig.ident
            ),
        );
    }
    signature(sig, MAIN_ATTR, "graceful::Shutdown", cx);
    Some(function)
}

/// The function `#[graceful::on_shutdown]` is on, if it is one it can register.
pub fn hook_fn<'a>(item: &'a Item, cx: &mut Ctxt) -> Option<&'a ItemFn> {
    let function = match item {
        Item::Fn(function) => function,
        Item::Other(head) => {
            cx.error_spanned_by(
                head,
                format!("`{HOOK_ATTR}` can only be applied to a free function"),
            );
            return None;
        }
    };
    let sig = &function.sig;
    if let Some(receiver) = sig.receiver() {
        cx.error_spanned_by(
            receiver,
            format!(
                "`{HOOK_ATTR}` can only be applied to a free function: hooks are called with no value for `self`. Move the cleanup to a free function, e.g. one that reaches the value through a global (`static POOL: OnceLock<Pool>`)"
            ),
        );
    }
    signature(sig, HOOK_ATTR, "graceful::HookContext", cx);
    Some(function)
}

/// The parameter the generated code passes, if the function takes one.
pub fn param(sig: &Signature) -> Option<&Type> {
    sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(param) => Some(&*param.ty),
        FnArg::Receiver(_) => None,
    })
}

/// What both attributes require of a signature: a plain, safe, non-generic Rust function
/// with at most one parameter, of type `arg_type`.
fn signature(sig: &Signature, attr: &str, arg_type: &str, cx: &mut Ctxt) {
    if let Some(constness) = sig.constness {
        cx.error_spanned_by(
            constness,
            format!("`{attr}` cannot be applied to a `const fn`: remove `const`"),
        );
    }
    if let Safety::Unsafe(unsafety) = sig.safety {
        cx.error_spanned_by(
            unsafety,
            format!(
                "`{attr}` cannot be applied to an `unsafe fn`, since it calls the function as safe code: remove `unsafe` and put the unsafe operations in an `unsafe {{ }}` block"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            format!(
                "`{attr}` cannot be applied to an `extern` function, since it calls the function from Rust: remove `{}`",
                quote!(#abi)
            ),
        );
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "`{attr}` cannot be applied to a generic function, since nothing would choose its generic parameters: remove them"
            ),
        );
    } else if let Some(where_clause) = &sig.generics.where_clause {
        // An empty `where` clause prints no tokens: the error goes on `where` itself.
        let (where_token, predicates) = (where_clause.where_token, &where_clause.predicates);
        cx.error_spanned_by(
            quote!(#where_token #predicates),
            format!("`{attr}` cannot be applied to a function with a `where` clause: remove it"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "remove the variadic `...` parameter");
    }

    let params: Vec<_> = sig
        .inputs
        .iter()
        .filter(|input| matches!(input, FnArg::Typed(_)))
        .collect();
    if let Some(Type::ImplTrait(ty)) = param(sig) {
        cx.error_spanned_by(
            ty,
            format!(
                "`impl Trait` makes the function generic, and `{attr}` cannot call a generic function: write `{arg_type}`"
            ),
        );
    }
    if params.len() > 1 {
        let extra = &params[1..];
        cx.error_spanned_by(
            quote!(#(#extra),*),
            format!(
                "`{attr}` passes at most one parameter, of type `{arg_type}`: remove {}",
                if extra.len() == 1 {
                    "this one"
                } else {
                    "these"
                }
            ),
        );
    }
}

fn crate_path(krate: Option<Value<Path>>) -> Path {
    krate.map_or_else(|| syn::parse_quote!(::graceful), |krate| krate.value)
}

fn value<T>(value: Option<Value<T>>) -> Option<T> {
    value.map(|v| v.value)
}
