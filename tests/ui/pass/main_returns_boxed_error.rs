// The common `Box<dyn Error>` return type, with `?` in the body.
#[graceful::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = "3000".parse()?;
    assert_eq!(port, 3000);
    Ok(())
}
