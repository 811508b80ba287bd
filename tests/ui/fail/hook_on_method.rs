pub struct Pool;

impl Pool {
    #[graceful::on_shutdown]
    pub async fn close(&self) {}
}

fn main() {
    // The method is still emitted: calling it compiles.
    let _ = Pool.close();
}
