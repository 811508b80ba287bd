//! The generated code is clean under strict lints: no `unsafe` of its own (inventory's is
//! inside its macro), fully qualified paths, no warnings, nothing undocumented, even with
//! the runtime's names imported.
#![forbid(unsafe_code)]
#![deny(unused_qualifications, missing_docs, warnings)]
#![deny(clippy::all)]

use graceful::{HookContext, Shutdown};

mod hooks {
    use std::fmt;

    /// An error that is `Display`.
    pub struct FlushError;

    impl fmt::Display for FlushError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("flush failed")
        }
    }

    #[graceful::on_shutdown(order = -5, timeout = "2s", name = "flush")]
    async fn flush(ctx: graceful::HookContext) -> Result<(), FlushError> {
        assert_eq!(ctx.name(), "flush");
        Ok(())
    }

    #[graceful::on_shutdown]
    pub(crate) fn close() {}
}

#[graceful::on_shutdown(order = 10)]
fn sync_with_context(ctx: HookContext) -> Result<(), String> {
    assert_eq!(ctx.order(), 10);
    Ok(())
}

#[graceful::main(timeout = "5s", signals = ["SIGTERM"], flavor = "current_thread")]
async fn main(shutdown: Shutdown) -> Result<(), std::io::Error> {
    assert!(!shutdown.is_cancelled());
    Ok(())
}
