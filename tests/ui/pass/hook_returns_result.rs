// Hooks may return `Result<(), E>` for any `E: Display`.
#[graceful::on_shutdown]
fn sync_io() -> Result<(), std::io::Error> {
    Ok(())
}

#[graceful::on_shutdown]
async fn async_string() -> Result<(), String> {
    Ok(())
}

#[graceful::on_shutdown]
async fn boxed(
    _ctx: graceful::HookContext,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[graceful::main]
async fn main() {}
