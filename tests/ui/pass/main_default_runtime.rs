// Without `flavor`, the runtime is multi-threaded, as with `#[tokio::main]`.
#[graceful::main]
async fn main() {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    assert_eq!(flavor, tokio::runtime::RuntimeFlavor::MultiThread);
}
