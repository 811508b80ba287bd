// SIGWINCH, which a terminal sends on every resize, would stop the service when someone
// resizes the window it runs in: refused, even written in lowercase without `SIG`.
#[graceful::main(signals = ["SIGINT", "SIGWINCH", "winch"])]
async fn main() {}
