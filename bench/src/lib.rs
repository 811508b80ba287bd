//! The variant programs the harness starts, signals and times: each binary in `src/bin` is one
//! line calling one of the macros below with its N.
//!
//! Every variant prints [`READY`] on stdout once it would notice a signal, then waits for
//! SIGTERM (or SIGINT), does its shutdown work and exits 0.
//!
//! | macro | what a user would write |
//! | --- | --- |
//! | [`graceful_program!`] | `#[graceful::main]` and N `#[graceful::on_shutdown]` hooks |
//! | [`by_hand_program!`] | `#[tokio::main]`, `tokio::signal`, a `CancellationToken`, N hooks awaited in turn |
//! | [`tgs_program!`] | `tokio-graceful-shutdown`: a `Toplevel` and N subsystems |
//! | [`graceful_blocking_program!`] | `#[graceful::main]` and N plain `fn` hooks, one order each |
//! | [`by_hand_blocking_program!`] | the by-hand program calling the same N `fn`s in turn |
//!
//! [`servers`] is what the servers of the serving benchmark share (`serve_*`, `grpc_*`: the
//! router, the ready line, the gRPC method).
//!
//! [`spawns`] is the spawn-throughput workload (`tokio::spawn`, `TaskTracker::spawn` and
//! `graceful::spawn` in one process), run by the `spawn_throughput` binary.
//! The N hooks are generated with [`seq!`]: `order` must be an integer literal, and a
//! `macro_rules!` cannot make a new literal (nor a new identifier) out of the digits of its
//! nested repetitions, so it cannot give 10 000 hooks 10 000 distinct orders by itself.
//!
//! No shutdown hook is defined in this library: it would be linked into every binary.

pub mod servers;
pub mod spawns;

#[doc(hidden)]
pub use seq_macro::seq;

/// The line a variant prints on stdout once its signal handling is in place.
pub const READY: &str = "ready";

/// Prints [`READY`] (stdout is line-buffered: it leaves at once).
pub fn ready() {
    println!("{READY}");
}

/// The body of every plain `fn` hook, graceful's and the hand-written ones alike: nothing
/// the optimiser can remove, so each hook is a real call.
#[inline(never)]
pub fn blocking_work() {
    std::hint::black_box(());
}

/// xorshift64*: enough to shuffle the order of a round, no dependency.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock.
    pub fn seeded() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Rng::from_seed(nanos as u64)
    }

    /// Seeded with `seed` (any value: xorshift needs a non-zero state, which this ensures).
    pub fn from_seed(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// A hook of the hand-written variants: what `async fn` hooks look like behind a `fn` pointer.
pub type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// `#[graceful::main]` whose body prints [`READY`] and waits for the token, and `hooks` async
/// `#[graceful::on_shutdown]` hooks whose body is `body`.
///
/// `order = K` gives the hooks the distinct orders `0..hooks` (as many phases as hooks, run
/// one after another); `order = 0` puts them all in one phase (run concurrently).
///
/// ```ignore
/// graceful_bench::graceful_program!(hooks = 10, order = K, body = {});
/// ```
#[macro_export]
macro_rules! graceful_program {
    (hooks = $n:tt, order = $order:tt, body = { $($body:tt)* }) => {
        #[graceful::main]
        async fn main(shutdown: graceful::Shutdown) {
            $crate::ready();
            shutdown.cancelled().await;
        }

        $crate::seq!(K in 0..$n {
            #[graceful::on_shutdown(order = $order)]
            async fn hook~K() {
                $($body)*
            }
        });
    };
}

/// The same work by hand: `#[tokio::main]`, SIGTERM and SIGINT through `tokio::signal`, a
/// `CancellationToken` that stops the application task, then `hooks` async hooks (a static
/// list of `fn` pointers to boxed futures): awaited one after another (`run = sequence`) or
/// all at once on a `JoinSet` (`run = concurrent`).
///
/// ```ignore
/// graceful_bench::by_hand_program!(hooks = 10, run = sequence, body = {});
/// ```
#[macro_export]
macro_rules! by_hand_program {
    (hooks = $n:tt, run = $run:ident, body = { $($body:tt)* }) => {
        $crate::seq!(K in 0..$n {
            async fn hook~K() {
                $($body)*
            }

            fn boxed~K() -> $crate::BoxFuture {
                ::std::boxed::Box::pin(hook~K())
            }
        });

        $crate::seq!(K in 0..$n {
            static HOOKS: &[fn() -> $crate::BoxFuture] = &[#(boxed~K,)*];
        });

        $crate::by_hand_program!(@main { $crate::by_hand_program!(@run $run); });
    };
    (@main { $($run:tt)* }) => {
        #[tokio::main]
        async fn main() {
            use tokio::signal::unix::{SignalKind, signal};

            let token = tokio_util::sync::CancellationToken::new();
            let app = tokio::spawn({
                let token = token.clone();
                async move { token.cancelled().await }
            });
            let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
            $crate::ready();
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            token.cancel();
            app.await.expect("the application task");
            $($run)*
        }
    };
    (@run sequence) => {
        for hook in HOOKS {
            hook().await;
        }
    };
    (@run concurrent) => {
        let mut running = tokio::task::JoinSet::new();
        for hook in HOOKS {
            running.spawn(hook());
        }
        while let Some(ended) = running.join_next().await {
            ended.expect("a hook");
        }
    };
}

/// `#[graceful::main]` as in [`graceful_program!`], and `hooks` plain `fn`
/// `#[graceful::on_shutdown]` hooks in the orders `0..hooks`, each calling [`blocking_work`]:
/// consecutive blocking hooks, which graceful runs in a row on one blocking thread.
///
/// ```ignore
/// graceful_bench::graceful_blocking_program!(hooks = 10);
/// ```
#[macro_export]
macro_rules! graceful_blocking_program {
    (hooks = $n:tt) => {
        #[graceful::main]
        async fn main(shutdown: graceful::Shutdown) {
            $crate::ready();
            shutdown.cancelled().await;
        }

        $crate::seq!(K in 0..$n {
            #[graceful::on_shutdown(order = K)]
            fn hook~K() {
                $crate::blocking_work();
            }
        });
    };
}

/// The same work by hand: the program of [`by_hand_program!`], whose hooks are `hooks` plain
/// `fn`s (each calling [`blocking_work`], as graceful's do) called one after another, on the
/// runtime thread that saw the signal, once the application task has stopped.
///
/// ```ignore
/// graceful_bench::by_hand_blocking_program!(hooks = 10);
/// ```
#[macro_export]
macro_rules! by_hand_blocking_program {
    (hooks = $n:tt) => {
        $crate::seq!(K in 0..$n {
            fn hook~K() {
                $crate::blocking_work();
            }
        });

        $crate::seq!(K in 0..$n {
            static HOOKS: &[fn()] = &[#(hook~K,)*];
        });

        $crate::by_hand_program!(@main {
            for hook in HOOKS {
                hook();
            }
        });
    };
}

/// The future of a `tokio-graceful-shutdown` subsystem, boxed like the hand-written hooks.
pub type SubsystemFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), std::convert::Infallible>> + Send + 'a>,
>;

/// The same work with `tokio-graceful-shutdown`: a `Toplevel` catching SIGTERM and SIGINT,
/// whose root subsystem starts `subsystems` subsystems, prints [`READY`] and waits for the
/// shutdown; each subsystem waits for the shutdown, then runs `body` and returns `Ok`.
///
/// The subsystems are distinct `async fn`s started through `fn` pointers to boxed futures
/// (as the hand-written hooks are): `SubsystemHandle::start` is generic over the subsystem,
/// and 10 000 distinct subsystem types make 10 000 copies of the crate's machinery, which
/// takes rustc more than 20 GiB to build.
///
/// ```ignore
/// graceful_bench::tgs_program!(subsystems = 10, body = {});
/// ```
#[macro_export]
macro_rules! tgs_program {
    (subsystems = $n:tt, body = { $($body:tt)* }) => {
        use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};

        $crate::seq!(K in 0..$n {
            async fn subsystem~K(
                subsys: &mut SubsystemHandle,
            ) -> ::std::result::Result<(), ::std::convert::Infallible> {
                subsys.on_shutdown_requested().await;
                $($body)*
                Ok(())
            }

            fn boxed~K(subsys: &mut SubsystemHandle) -> $crate::SubsystemFuture<'_> {
                ::std::boxed::Box::pin(subsystem~K(subsys))
            }
        });

        $crate::seq!(K in 0..$n {
            static SUBSYSTEMS: &[(&str, for<'a> fn(&'a mut SubsystemHandle) -> $crate::SubsystemFuture<'a>)] =
                &[#((::std::concat!("subsystem", K), boxed~K),)*];
        });

        #[tokio::main]
        async fn main() -> ::std::result::Result<(), tokio_graceful_shutdown::errors::GracefulShutdownError> {
            // `Toplevel::new` spawns the root subsystem at once, and another worker thread may
            // run it before `catch_signals` registers the handlers: a SIGTERM sent on the
            // ready line would then reach no one (tokio hands a signal only to the streams
            // that existed when it came). The root prints the ready line once they exist.
            let (registered, signals_registered) = ::tokio::sync::oneshot::channel::<()>();
            let toplevel = Toplevel::new(async move |root: &mut SubsystemHandle| {
                for &(name, subsystem) in SUBSYSTEMS {
                    root.start(SubsystemBuilder::new(name, subsystem));
                }
                signals_registered.await.expect("main registers the signals");
                $crate::ready();
                root.on_shutdown_requested().await;
            })
            .catch_signals();
            registered.send(()).expect("the root subsystem waits for the signals");
            toplevel
                .handle_shutdown_requests(::std::time::Duration::from_secs(25))
                .await
        }
    };
}
