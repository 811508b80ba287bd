//! A child's output: one pipe (its stdout or its stderr) read line by line on a thread of its
//! own, the waits for a line, and the text a failing test shows.
//!
//! The reading runs on a thread, not on the test's runtime, so that a line's time is when it
//! came, however busy the test is, and the pipe never fills while the test does something else.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// One line of output and when the harness read it.
#[derive(Clone, Debug)]
pub struct Line {
    /// When the line was read.
    pub at: Instant,
    /// The line, without its newline (invalid UTF-8 replaced).
    pub text: String,
}

#[derive(Default)]
struct State {
    lines: Vec<Line>,
    closed: bool,
}

/// The lines read so far from one pipe of the child, and whether it has closed.
pub(crate) struct Output {
    state: watch::Sender<State>,
}

impl Output {
    /// Starts reading `pipe` on a thread named `name`; the thread ends when the pipe closes.
    pub(crate) fn read(pipe: OwnedFd, name: String) -> (Arc<Output>, JoinHandle<()>) {
        let output = Arc::new(Output {
            state: watch::Sender::new(State::default()),
        });
        let writer = Arc::clone(&output);
        let reader = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut reader = BufReader::new(File::from(pipe));
                let mut buffer = Vec::new();
                loop {
                    buffer.clear();
                    match reader.read_until(b'\n', &mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&buffer);
                            let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
                            let line = Line {
                                at: Instant::now(),
                                text,
                            };
                            writer.state.send_modify(|state| state.lines.push(line));
                        }
                    }
                }
                writer.state.send_modify(|state| state.closed = true);
            })
            .expect("a thread to read the child's output");
        (output, reader)
    }

    /// Every line read so far.
    pub(crate) fn lines(&self) -> Vec<Line> {
        self.state.borrow().lines.clone()
    }

    /// The text of every line read so far.
    pub(crate) fn texts(&self) -> Vec<String> {
        let state = self.state.borrow();
        state.lines.iter().map(|line| line.text.clone()).collect()
    }

    /// Waits until `check` finds what it looks for in the lines read so far (it is called
    /// again after each new line, and with `true` once the pipe has closed); `None` if the
    /// pipe closed without it or `limit` passed first.
    async fn wait_until<R>(
        &self,
        mut check: impl FnMut(&[Line], bool) -> Option<R>,
        limit: Duration,
    ) -> Option<R> {
        let until = tokio::time::Instant::now() + limit;
        let mut changes = self.state.subscribe();
        loop {
            {
                let state = changes.borrow_and_update();
                if let Some(found) = check(&state.lines, state.closed) {
                    return Some(found);
                }
                if state.closed {
                    return None;
                }
            }
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Waits for a line satisfying `wanted`; `None` if the pipe closed or the time ran out.
    pub(crate) async fn wait_for(
        &self,
        wanted: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Option<Line> {
        self.wait_for_count(wanted, 1, limit).await
    }

    /// Waits until `count` lines satisfy `wanted`; the last of them, or `None` if the pipe
    /// closed or the time ran out first.
    pub(crate) async fn wait_for_count(
        &self,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        limit: Duration,
    ) -> Option<Line> {
        let check = |lines: &[Line], _closed| {
            let mut matching = lines.iter().filter(|line| wanted(&line.text));
            matching.nth(count.saturating_sub(1)).cloned()
        };
        self.wait_until(check, limit).await
    }

    /// Waits until the pipe has closed; whether it did within `limit`.
    pub(crate) async fn wait_closed(&self, limit: Duration) -> bool {
        let check = |_: &[Line], closed: bool| closed.then_some(());
        self.wait_until(check, limit).await.is_some()
    }
}

/// The text a failing test shows: both streams, each under its name. Long output (a load
/// test's) keeps the head and the tail of each stream.
pub(crate) fn format_output(stdout: &[impl AsRef<str>], stderr: &[impl AsRef<str>]) -> String {
    const KEEP: usize = 60;
    fn push_all(text: &mut String, lines: &[impl AsRef<str>]) {
        for line in lines {
            text.push_str(line.as_ref());
            text.push('\n');
        }
    }
    fn push(text: &mut String, lines: &[impl AsRef<str>]) {
        if lines.len() <= 2 * KEEP {
            push_all(text, lines);
        } else {
            push_all(text, &lines[..KEEP]);
            text.push_str(&format!("[... {} lines ...]\n", lines.len() - 2 * KEEP));
            push_all(text, &lines[lines.len() - KEEP..]);
        }
    }
    let mut text = String::from("--- stdout\n");
    push(&mut text, stdout);
    text.push_str("--- stderr\n");
    push(&mut text, stderr);
    text.push_str("---");
    text
}
