//! The main body ends as `FIXTURE_MAIN` says, and one hook prints the reason it was given:
//! - `ok`: returns `Ok(())` at once;
//! - `err`: returns `Err(AppError { code: 7 })` at once (its `Display` differs from its
//!   `Debug`, so the test sees which one is printed);
//! - `panic`: panics at once;
//! - `code=N`: calls `trigger_with_code(N)`, then returns `Ok(())` once cancelled;
//! - `err-after-cancel`: waits for the token, then returns `Err`;
//! - anything else: waits for the token, then returns `Ok(())`.

use std::fmt;

use graceful_process_tests::{main_mode, ready};

#[derive(Debug)]
struct AppError {
    #[allow(dead_code)] // read through `Debug`
    code: u32,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the application failed")
    }
}

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) -> Result<(), AppError> {
    ready();
    let mode = main_mode();
    match mode.as_str() {
        "ok" => Ok(()),
        "err" => Err(AppError { code: 7 }),
        "panic" => panic!("main exploded"),
        "err-after-cancel" => {
            shutdown.cancelled().await;
            Err(AppError { code: 8 })
        }
        _ => {
            if let Some(code) = mode.strip_prefix("code=") {
                shutdown.trigger_with_code(
                    code.parse().expect("FIXTURE_MAIN=code=N with N in 0..=255"),
                );
            }
            shutdown.cancelled().await;
            Ok(())
        }
    }
}

#[graceful::on_shutdown(order = 10)]
fn cleanup(ctx: graceful::HookContext) {
    println!("hook cleanup ran reason={:?}", ctx.reason());
}
