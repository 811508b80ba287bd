//! Compile-time behaviour of `#[graceful::main]` and `#[graceful::on_shutdown]`.
//!
//! - `pass/*.rs`: every accepted form compiles, runs and exits 0 (a hook that
//!   fails, panics or is skipped would make the exit code 1).
//! - `fail/*.rs`: each misuse fails to compile with the error in its `.stderr`,
//!   one theme per file, named after the error.
//!
//! Refresh the snapshots with `TRYBUILD=overwrite cargo test -p graceful-ui-tests`, then read them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    cases.compile_fail("fail/*.rs");
}
