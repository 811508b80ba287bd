//! The hook registry: hooks collected at link time from `#[on_shutdown]` (through
//! `inventory`), and hooks registered at run time with [`graceful::register`](crate::register).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use crate::hooks::{Fallible, HookContext};
use crate::util::sync::lock;

/// A hook's outcome, with the error's text.
pub type HookResult = Result<(), String>;

/// The future of an async hook.
pub type BoxFuture = Pin<Box<dyn Future<Output = HookResult> + Send + 'static>>;

/// How a static hook runs.
#[derive(Clone, Copy)]
pub enum HookFn {
    /// An `async fn`: polled on the runtime.
    Async(fn(HookContext) -> BoxFuture),
    /// A plain `fn`: run on a blocking thread.
    Blocking(fn(HookContext) -> HookResult),
}

/// A hook registered by `#[on_shutdown]`, submitted to `inventory` by the generated code.
pub struct StaticHook {
    pub(crate) order: i32,
    pub(crate) name: &'static str,
    pub(crate) timeout: Option<Duration>,
    pub(crate) run: HookFn,
}

impl StaticHook {
    /// Describes a hook; called in a `const` context by the generated code.
    pub const fn new(
        order: i32,
        name: &'static str,
        timeout: Option<Duration>,
        run: HookFn,
    ) -> Self {
        StaticHook {
            order,
            name,
            timeout,
            run,
        }
    }
}

inventory::collect!(StaticHook);

/// Boxes an async hook's future, turning its output into a [`HookResult`].
pub fn box_hook<F, R>(fut: F) -> BoxFuture
where
    F: Future<Output = R> + Send + 'static,
    R: Fallible,
{
    Box::pin(async move { fut.await.into_result() })
}

/// Turns a blocking hook's output into a [`HookResult`].
pub fn blocking_result<R: Fallible>(output: R) -> HookResult {
    output.into_result()
}

/// A hook registered at run time: given its context, the future to run.
pub(crate) type DynamicFn = Box<dyn FnOnce(HookContext) -> BoxFuture + Send>;

/// What runs in a hook, whichever way it was registered.
pub(crate) enum Run {
    Static(HookFn),
    Dynamic(DynamicFn),
}

/// One hook, static or registered at run time, ready to be scheduled.
pub(crate) struct Hook {
    pub(crate) order: i32,
    pub(crate) name: Cow<'static, str>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) run: Run,
}

/// Hooks registered at run time; closed when the hooks start, so a late registration is
/// refused loudly rather than silently never run.
#[derive(Default)]
pub(crate) struct Dynamic {
    hooks: Mutex<Option<Vec<Hook>>>,
}

impl Dynamic {
    pub(crate) fn new() -> Self {
        Dynamic {
            hooks: Mutex::new(Some(Vec::new())),
        }
    }

    /// Adds a hook; gives it back if the hooks have already been taken.
    pub(crate) fn add(&self, hook: Hook) -> Result<(), Hook> {
        match lock(&self.hooks).as_mut() {
            Some(hooks) => {
                hooks.push(hook);
                Ok(())
            }
            None => Err(hook),
        }
    }

    fn names(&self) -> Vec<(i32, Cow<'static, str>)> {
        lock(&self.hooks)
            .iter()
            .flatten()
            .map(|hook| (hook.order, hook.name.clone()))
            .collect()
    }

    fn take(&self) -> Vec<Hook> {
        lock(&self.hooks).take().unwrap_or_default()
    }
}

/// Every static hook and every hook registered so far, in ascending `order` (stable: hooks
/// with the same order form one phase, whatever their order in the list).
pub(crate) fn all_hooks(dynamic: &Dynamic) -> Vec<Hook> {
    let mut hooks: Vec<Hook> = inventory::iter::<StaticHook>
        .into_iter()
        .map(|hook| Hook {
            order: hook.order,
            name: Cow::Borrowed(hook.name),
            timeout: hook.timeout,
            run: Run::Static(hook.run),
        })
        .collect();
    hooks.extend(dynamic.take());
    hooks.sort_by_key(|hook| hook.order);
    hooks
}

/// The order and name of every hook [`all_hooks`] would return now, in the same order,
/// without taking the run-time ones.
pub(crate) fn planned(dynamic: &Dynamic) -> Vec<(i32, Cow<'static, str>)> {
    let mut hooks: Vec<(i32, Cow<'static, str>)> = inventory::iter::<StaticHook>
        .into_iter()
        .map(|hook| (hook.order, Cow::Borrowed(hook.name)))
        .collect();
    hooks.extend(dynamic.names());
    hooks.sort_by_key(|(order, _)| *order);
    hooks
}

/// The hooks linked into this binary, in link order.
pub(crate) fn static_hooks() -> impl Iterator<Item = &'static StaticHook> {
    inventory::iter::<StaticHook>.into_iter()
}

/// Whether the binary links a plain `fn` hook (run-time hooks are futures).
pub(crate) fn has_blocking_hooks() -> bool {
    inventory::iter::<StaticHook>
        .into_iter()
        .any(|hook| matches!(hook.run, HookFn::Blocking(_)))
}

/// What [`graceful::register`](crate::register) accepts as a hook: a future, or a closure
/// that receives the [`HookContext`] and returns a future; either way its output is `()` or
/// `Result<(), E: Display>`. `M` only tells the two forms apart; it is inferred.
///
/// ```no_run
/// # async fn f() {
/// graceful::register(10, "flush", async { Ok::<(), std::io::Error>(()) });
/// graceful::register(20, "deregister", |ctx: graceful::HookContext| async move {
///     if ctx.time_left() < std::time::Duration::from_millis(100) {
///         return Err("no time left to deregister");
///     }
///     Ok(())
/// });
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "a run-time hook is a future, or a closure taking a `graceful::HookContext` and returning one, not `{Self}`",
    label = "not a hook",
    note = "write `async move {{ .. }}` or `|ctx: graceful::HookContext| async move {{ .. }}`; the future must be `Send + 'static` and return `()` or `Result<(), E: Display>`"
)]
pub trait IntoHook<M>: Send + 'static {
    /// The hook, boxed for the registry.
    #[doc(hidden)]
    fn into_hook(self) -> DynamicFn;
}

/// [`IntoHook`]'s marker for a future.
#[doc(hidden)]
pub enum FutureHook {}

/// [`IntoHook`]'s marker for a closure taking the context.
#[doc(hidden)]
pub enum ContextHook {}

impl<F> IntoHook<FutureHook> for F
where
    F: Future + Send + 'static,
    F::Output: Fallible,
{
    fn into_hook(self) -> DynamicFn {
        Box::new(move |_context| box_hook(self))
    }
}

impl<C, F> IntoHook<(ContextHook, F)> for C
where
    C: FnOnce(HookContext) -> F + Send + 'static,
    F: Future + Send + 'static,
    F::Output: Fallible,
{
    fn into_hook(self) -> DynamicFn {
        Box::new(move |context| box_hook(self(context)))
    }
}
