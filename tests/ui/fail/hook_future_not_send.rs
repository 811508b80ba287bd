use std::rc::Rc;

#[graceful::on_shutdown]
async fn flush() {
    let local = Rc::new(1);
    tokio::task::yield_now().await;
    drop(local);
}

fn main() {}
