//! The `file_logging` example as a real process: after SIGTERM it exits 0 and its log file
//! (tracing-appender's non-blocking writer) holds the hook's line and ends with the report's
//! summary. Without `graceful::keep_until_exit(guard)` those last lines are lost.

use graceful_test_support::{LINE_TIMEOUT, Process, START_TIMEOUT, Signal, TempDir};

#[tokio::test]
async fn after_sigterm_the_log_file_ends_with_the_summary() {
    let dir = TempDir::new("file-logging");
    let log_dir = dir
        .path()
        .to_str()
        .expect("a UTF-8 temporary path")
        .to_owned();
    let mut service = Process::start("file_logging", &[("LOG_DIR", &log_dir)]);
    service
        .wait_for_line(|line| line.starts_with("running"), START_TIMEOUT)
        .await;
    service.signal(Signal::SIGTERM);
    let exited = service.wait(LINE_TIMEOUT).await;
    exited.assert_code(0);

    let path = dir.join("file_logging.log");
    let log = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}\n{exited}", path.display()));
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("save_state: state saved")),
        "the hook's line is in the file\n--- {}\n{log}---\n{exited}",
        path.display()
    );
    let last = lines.last().copied().unwrap_or_default();
    assert!(
        last.contains("exit code 0"),
        "the file ends with the summary, not {last:?}\n--- {}\n{log}---\n{exited}",
        path.display()
    );
}

#[tokio::test]
async fn without_log_dir_it_says_so_and_fails() {
    let mut service = Process::start("file_logging", &[]);
    let exited = service.wait(LINE_TIMEOUT).await;
    assert_eq!(exited.status.code(), Some(1), "{exited}");
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("LOG_DIR is not set")),
        "{exited}"
    );
}
