#[graceful::main]
fn main() {
    println!("hello");
}
