#[graceful::main(upgrade = "SIGCHLD")]
async fn main() {}

mod console {
    #[graceful::main(upgrade = "CTRL_C")]
    async fn main() {}
}

mod not_a_string {
    #[graceful::main(upgrade = ["SIGHUP"])]
    async fn main() {}
}
