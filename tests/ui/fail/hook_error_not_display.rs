#[derive(Debug)]
pub struct FlushError;

#[graceful::on_shutdown]
fn flush() -> Result<(), FlushError> {
    Ok(())
}

fn main() {}
