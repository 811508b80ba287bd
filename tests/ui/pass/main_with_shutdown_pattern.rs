// The parameter may be any pattern, and its type may be imported.
use graceful::Shutdown;

#[graceful::main]
async fn main(mut _shutdown: Shutdown) {
    _shutdown = graceful::shutdown();
    assert!(_shutdown.reason().is_none());
}
