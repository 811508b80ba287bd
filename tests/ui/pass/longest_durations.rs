// The longest `Duration` there is, `Duration::MAX`, is accepted everywhere a duration is, and
// the checks across options (`drain_timeout <= timeout`, `drain_delay < timeout`) compare it
// without overflowing.
#![deny(warnings)]

#[graceful::on_shutdown(timeout = "18446744073709551615s 999999999ns")]
async fn longest() {}

#[graceful::on_shutdown(order = 1, timeout = "213503982334601d 7h 15s 999ms 999us 999ns")]
fn longest_in_days() {}

#[graceful::main(
    timeout = "18446744073709551615s 999999999ns",
    drain_timeout = "18446744073709551615.999999999s",
    drain_delay = "18446744073709551615s"
)]
async fn main() {}
