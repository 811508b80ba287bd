#[graceful::on_shutdown]
async fn flush() -> usize {
    0
}

fn main() {}
