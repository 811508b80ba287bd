// Every problem is reported at once, each on its culprit.
#[graceful::on_shutdown(priority = 1, order = 1.5, timeout = "5", name = "", order = 2)]
unsafe fn close<T>(_ctx: graceful::HookContext, _extra: T) {}

#[graceful::main(timeout = "10s", drain_timeout = "1m", signals = ["SIGKILL", "TERM"], flavor = "current_thread", worker_threads = 2)]
fn main() {}
