// One nanosecond more than `Duration::MAX`, on either attribute, is an error on the literal.
#[graceful::on_shutdown(timeout = "18446744073709551616s")]
async fn flush() {}

#[graceful::main(
    timeout = "18446744073709551615s 1000000000ns",
    drain_timeout = "99999999999999999999999999999999999999999d"
)]
async fn main() {}
