#[graceful::on_shutdown]
extern "C" fn release() {}

fn main() {}
