// The attribute reads durations as `GRACEFUL_TIMEOUT` does, with humantime's grammar: every
// unit and spelling it has (`msec`, `mins`, `w`...), fractions, and parts with or without
// spaces.
#![deny(warnings)]

#[graceful::on_shutdown(timeout = "1500msec")]
async fn flush() {}

#[graceful::on_shutdown(order = 1, timeout = "2 secs 250millis")]
fn close() {}

#[graceful::main(
    timeout = "1.5mins",
    drain_timeout = "1m 2sec",
    drain_delay = "750000usec",
    upgrade = "SIGHUP",
    upgrade_timeout = "1w"
)]
async fn main() {}
