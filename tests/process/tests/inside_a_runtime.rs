//! `Builder::run` called from inside a tokio runtime is a clear error that names the async way
//! in, `Builder::run_async`, not tokio's "Cannot start a runtime from within a runtime".

use graceful_test_support::{EXIT_TIMEOUT, Fixture};

const RUN_IN_RUNTIME: &str = env!("CARGO_BIN_EXE_run_in_runtime");

#[test]
fn builder_run_inside_a_runtime_names_run_async_and_fails() {
    let mut fixture = Fixture::start(RUN_IN_RUNTIME, &[]);
    let exited = fixture.wait(EXIT_TIMEOUT);
    assert!(
        exited.status.code().is_some_and(|code| code != 0),
        "a non-zero exit code\n{exited}"
    );
    assert!(!exited.stdout_has("main body ran"), "{exited}");
    assert!(
        exited.stderr.iter().any(|line| line.contains("run_async")),
        "stderr names Builder::run_async\n{exited}"
    );
}
