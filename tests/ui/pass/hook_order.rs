// Hooks run in ascending `order`, negative ones first; the extremes of `i32` are accepted.
use std::sync::atomic::{AtomicI64, Ordering};

static LAST: AtomicI64 = AtomicI64::new(i64::MIN);

fn ran(order: i32) {
    let last = LAST.swap(i64::from(order), Ordering::SeqCst);
    assert!(
        last < i64::from(order),
        "hook {order} ran after hook {last}"
    );
}

#[graceful::on_shutdown(order = -2147483648)]
fn first() {
    ran(i32::MIN);
}

#[graceful::on_shutdown(order = -5)]
async fn negative(ctx: graceful::HookContext) {
    assert_eq!(ctx.order(), -5);
    ran(-5);
}

#[graceful::on_shutdown(order = 10)]
fn positive() {
    ran(10);
}

#[graceful::on_shutdown(order = 2147483647)]
fn last() {
    ran(i32::MAX);
}

#[graceful::main]
async fn main() {
    assert_eq!(
        LAST.load(Ordering::SeqCst),
        i64::MIN,
        "no hook runs before the shutdown"
    );
}
