//! The physical floor: block SIGTERM and SIGINT, print the ready line, wait for one of them
//! in `sigwait`, exit. No runtime, no thread, no allocation after start-up.

use nix::sys::signal::{SigSet, Signal};

fn main() {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals.thread_block().expect("block SIGTERM and SIGINT");
    graceful_bench::ready();
    signals.wait().expect("sigwait");
    std::process::exit(0);
}
