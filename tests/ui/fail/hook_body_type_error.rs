// An error in the body is reported once, by the compiler, where it is.
#[graceful::on_shutdown]
fn close() {
    let count: u32 = "three";
    let _ = count;
}

fn main() {}
