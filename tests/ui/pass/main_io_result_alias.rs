// A type alias for `Result<(), E>` works too: the compiler checks the real type.
#[graceful::main(timeout = "5s")]
async fn main() -> std::io::Result<()> {
    Ok(())
}
