//! Attributes on `main` stay on it; `#[cfg]` and docs also apply to the generated wrapper.
#![deny(missing_docs)]

/// Serves until asked to stop.
#[cfg(all())]
#[allow(clippy::unused_async)]
#[graceful::main(timeout = "5s")]
#[cfg(not(any()))]
pub async fn main() {
    #![allow(unused_variables)]
    let unused = 1;
}

#[cfg(any())]
fn main() {
    compile_error!("removed by its `#[cfg]`");
}
