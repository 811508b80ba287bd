#[graceful::on_shutdown]
fn close<T: Default>() {
    let _ = T::default();
}

fn main() {}
