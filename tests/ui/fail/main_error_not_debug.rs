pub struct StartError;

#[graceful::main]
async fn main() -> Result<(), StartError> {
    Ok(())
}
