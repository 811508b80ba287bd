#[graceful::on_shutdown(order = 1)]
pub struct Config {
    pub path: String,
}

fn main() {
    // The struct is still emitted: using it compiles.
    let _ = Config {
        path: String::new(),
    }
    .path;
}
