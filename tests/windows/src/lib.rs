//! Shared by the programs of the Windows subset: the `ready` line and the settings they read
//! from the environment.
//!
//! No shutdown hook is defined here: a hook in this library would be linked into every
//! program. Each program defines its own.

/// Prints `ready` on stdout once the main body runs (the console handlers are installed by
/// then): the launcher that sends console events waits for this line.
pub fn ready() {
    println!("ready");
}

/// The value of the environment variable `name`, empty if it is unset or not UTF-8.
#[must_use]
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}
