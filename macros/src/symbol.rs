//! The option names both attributes accept, written once (serde's `internals/symbol.rs`).
//!
//! Each name carries an example of its use, so every error about an option can show what
//! to write.

use std::fmt;

use proc_macro2::Ident;

/// `#[graceful::main]`, as messages name it.
pub const MAIN_ATTR: &str = "#[graceful::main]";
/// `#[graceful::on_shutdown]`, as messages name it.
pub const HOOK_ATTR: &str = "#[graceful::on_shutdown]";

/// An option name and an example of its use.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Symbol {
    name: &'static str,
    example: &'static str,
}

pub const TIMEOUT: Symbol = Symbol::new("timeout", "timeout = \"20s\"");
pub const DRAIN_TIMEOUT: Symbol = Symbol::new("drain_timeout", "drain_timeout = \"10s\"");
pub const DRAIN_DELAY: Symbol = Symbol::new("drain_delay", "drain_delay = \"5s\"");
pub const SIGNALS: Symbol = Symbol::new("signals", "signals = [\"SIGINT\", \"SIGTERM\"]");
pub const FORCE_EXIT: Symbol = Symbol::new("force_exit", "force_exit = false");
pub const FLAVOR: Symbol = Symbol::new("flavor", "flavor = \"current_thread\"");
pub const WORKER_THREADS: Symbol = Symbol::new("worker_threads", "worker_threads = 4");
pub const UPGRADE: Symbol = Symbol::new("upgrade", "upgrade = \"SIGHUP\"");
pub const UPGRADE_TIMEOUT: Symbol = Symbol::new("upgrade_timeout", "upgrade_timeout = \"30s\"");
pub const CRATE: Symbol = Symbol::new("crate", "crate = \"my_reexport::graceful\"");
pub const ORDER: Symbol = Symbol::new("order", "order = 10");
pub const NAME: Symbol = Symbol::new("name", "name = \"flush metrics\"");

/// The options of `#[graceful::main]`, in the order the docs list them.
pub const MAIN_KEYS: &[Symbol] = &[
    TIMEOUT,
    DRAIN_TIMEOUT,
    DRAIN_DELAY,
    SIGNALS,
    FORCE_EXIT,
    FLAVOR,
    WORKER_THREADS,
    UPGRADE,
    UPGRADE_TIMEOUT,
    CRATE,
];

/// The options of `#[graceful::on_shutdown]`.
pub const HOOK_KEYS: &[Symbol] = &[ORDER, TIMEOUT, NAME, CRATE];

/// Names users are likely to reach for (other libraries' words, old names), and the option
/// that does the job. Plain typos are caught by edit distance instead.
pub const MAIN_RENAMES: &[(&str, Symbol)] = &[
    ("threads", WORKER_THREADS),
    ("worker_thread", WORKER_THREADS),
    ("workers", WORKER_THREADS),
    ("num_threads", WORKER_THREADS),
    ("core_threads", WORKER_THREADS),
    ("signal", SIGNALS),
    ("grace_period", TIMEOUT),
    ("shutdown_timeout", TIMEOUT),
    ("deadline", TIMEOUT),
    ("drain", DRAIN_TIMEOUT),
    ("delay", DRAIN_DELAY),
    ("pre_stop_delay", DRAIN_DELAY),
    ("force", FORCE_EXIT),
    ("runtime", FLAVOR),
    ("scheduler", FLAVOR),
    ("reload", UPGRADE),
    ("upgrade_on", UPGRADE),
    ("upgrade_signal", UPGRADE),
    ("restart", UPGRADE),
    ("krate", CRATE),
    ("crate_path", CRATE),
];

/// As [`MAIN_RENAMES`], for `#[graceful::on_shutdown]`.
pub const HOOK_RENAMES: &[(&str, Symbol)] = &[
    ("priority", ORDER),
    ("prio", ORDER),
    ("phase", ORDER),
    ("stage", ORDER),
    ("rank", ORDER),
    ("weight", ORDER),
    ("label", NAME),
    ("id", NAME),
    ("deadline", TIMEOUT),
    ("time_limit", TIMEOUT),
    ("krate", CRATE),
    ("crate_path", CRATE),
];

impl Symbol {
    const fn new(name: &'static str, example: &'static str) -> Self {
        Symbol { name, example }
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// `key = value`, valid as written.
    pub fn example(self) -> &'static str {
        self.example
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, symbol: &Symbol) -> bool {
        self == symbol.name
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// "`a`, `b`, `c`", for "expected one of ..." messages.
pub fn list(symbols: &[Symbol]) -> String {
    let names: Vec<String> = symbols.iter().map(|s| format!("`{s}`")).collect();
    names.join(", ")
}
