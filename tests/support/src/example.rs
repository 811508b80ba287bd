//! Where `cargo test` puts the example binaries.

use std::path::{Path, PathBuf};

/// The path of the example binary `name`, built by `cargo test` next to the test binaries:
/// `target/<profile>/deps/<test>` → `target/<profile>/examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "example binary {name:?} not found at {}: `cargo test` builds the examples before it \
         runs the tests; when running one test file alone, build them first with \
         `cargo build --workspace --examples` (same profile)",
        path.display()
    );
    path
}
