// An upgrade signal outside `signals`, with its timeout; `graceful::listen` and
// `graceful::ready` from the body. Without an upgrade signal sent, it runs as any program.
#![deny(warnings)]

#[graceful::main(signals = ["SIGTERM"], upgrade = "SIGHUP", upgrade_timeout = "1m 30s")]
async fn main() -> std::io::Result<()> {
    let listener = graceful::listen("http", "127.0.0.1:0").await?;
    graceful::ready();
    drop(listener);
    Ok(())
}
