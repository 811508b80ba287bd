// `flavor = "current_thread"` runs `main` on a current-thread runtime.
#[graceful::main(flavor = "current_thread", timeout = "10s")]
async fn main() {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
}
