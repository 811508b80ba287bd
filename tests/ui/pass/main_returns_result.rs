// `main` may return `Result<(), E>` for any `E: Debug`.
#[derive(Debug)]
enum StartError {
    #[allow(dead_code)]
    Bind(std::io::Error),
}

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) -> Result<(), StartError> {
    assert!(!shutdown.is_cancelled());
    Ok(())
}
