//! A library crate that registers a shutdown hook. A binary finds it once it links this
//! crate (`use graceful_fixture_hooks as _;`).

/// Announces itself on stdout, so a test can see that a hook from another crate ran.
#[graceful::on_shutdown(order = 15, name = "fixture_hooks::library_hook")]
fn library_hook() {
    println!("hook library_hook ran");
}
