// Hooks may be anywhere in the crate, with any visibility, and be called as plain functions.
mod cleanup {
    #[graceful::on_shutdown(order = 3)]
    pub fn close(ctx: graceful::HookContext) {
        assert_eq!(ctx.name(), concat!(module_path!(), "::close"));
        assert!(module_path!().ends_with("::cleanup"));
    }

    #[graceful::on_shutdown]
    pub(crate) async fn flush() -> Result<(), std::fmt::Error> {
        Ok(())
    }
}

#[graceful::main]
async fn main() {
    // Still ordinary functions.
    cleanup::flush().await.unwrap();
}
