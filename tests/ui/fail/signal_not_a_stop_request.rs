// Signals that report an event rather than ask the process to stop: each is refused, on its
// literal, with the reason.
#[graceful::main(signals = [
    "SIGTERM",
    "SIGCHLD",
    "SIGPIPE",
    "SIGURG",
    "SIGCONT",
    "SIGALRM",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGPROF",
    "SIGVTALRM",
    "SIGIO",
    "SIGPOLL",
    "SIGXCPU",
    "SIGXFSZ",
])]
async fn main() {}
