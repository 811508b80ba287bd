//! `async fn main() -> std::process::ExitCode`: the code is used when the shutdown is
//! otherwise clean. `FIXTURE_FAIL=1` makes the hook fail, which must make the code 1.

use std::process::ExitCode;

use graceful_process_tests::{flag, ready};

#[graceful::main]
async fn main() -> ExitCode {
    ready();
    ExitCode::from(7)
}

#[graceful::on_shutdown(order = 10)]
fn cleanup() -> Result<(), String> {
    println!("hook cleanup ran");
    if flag("FIXTURE_FAIL") {
        return Err("disk full".to_owned());
    }
    Ok(())
}
