//! `Builder::run_to_report`, with the default signals (so the console handlers are installed
//! for the run, and the listener stopped after it): a hook registered at run time (order 10)
//! and a static one (order 20), then `trigger_with_code(3)`. The report is printed, one fact
//! a line; the process then exits by itself, with 0, since `run_to_report` does not exit.

use graceful_windows_fixtures::ready;

#[graceful::on_shutdown(order = 20)]
fn static_hook() {
    println!("static hook ran");
}

fn main() {
    let report = graceful::Builder::new()
        .run_to_report(|shutdown| async move {
            ready();
            graceful::register(10, "registered", async {
                println!("registered hook ran");
            });
            shutdown.trigger_with_code(3);
        })
        .expect("the configuration is valid");
    println!("report reason: {:?}", report.reason());
    let hooks: Vec<String> = report
        .hooks()
        .iter()
        .map(|hook| format!("{} {} {:?}", hook.order(), hook.name(), hook.outcome()))
        .collect();
    println!("report hooks: {}", hooks.join(", "));
    println!("report exit code: {}", report.exit_code());
    println!("run_to_report returned");
}
