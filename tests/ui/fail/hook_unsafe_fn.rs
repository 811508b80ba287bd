#[graceful::on_shutdown]
unsafe fn release() {}

fn main() {}
