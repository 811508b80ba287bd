//! [`Restart`]: when a service started with [`service_with`](crate::service_with) is run
//! again, after which back-off, and how many times before its failure stops the process. The
//! value type, and the bookkeeping of one service's restarts ([`Restarts`]): the window, the
//! back-off with its jitter.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// When a service is restarted: the policy of [`service_with`](crate::service_with).
///
/// A failed run (an `Err` or a panic) is restarted after a back-off that doubles from
/// `initial` up to `max` (with jitter: each delay is drawn between half the nominal one and
/// the nominal one, so that replicas that failed together do not retry together), as long
/// as the service has been restarted fewer than `restarts` times within the last `within`.
/// Past that limit the failure stops the process as a failed
/// [`service`](crate::service) does. Once the shutdown has started nothing is restarted.
///
/// The defaults, [`Restart::on_failure()`]: back-off from 100 ms doubling to 30 s, at most 5
/// restarts within 60 s. A service that ran for longer than the window without failing starts
/// again from the shortest back-off.
///
/// ```
/// use std::time::Duration;
/// use graceful::Restart;
///
/// let policy = Restart::on_failure()
///     .backoff(Duration::from_millis(200), Duration::from_secs(10))
///     .at_most(3, Duration::from_secs(30));
/// assert_ne!(policy, Restart::default());
/// assert_eq!(Restart::default(), Restart::on_failure());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    initial: Duration,
    max: Duration,
    restarts: u32,
    within: Duration,
    after_return: bool,
}

impl Default for Restart {
    /// [`Restart::on_failure()`].
    ///
    /// ```
    /// assert_eq!(graceful::Restart::default(), graceful::Restart::on_failure());
    /// ```
    fn default() -> Self {
        Restart::on_failure()
    }
}

impl Restart {
    /// Restarts a run that failed (returned `Err` or panicked); one that returns `Ok` ends the
    /// service, as with [`service`](crate::service). Erlang/OTP's `transient` child.
    ///
    /// ```no_run
    /// # async fn consume() -> Result<(), std::io::Error> { Ok(()) }
    /// # async fn f() {
    /// graceful::service_with("consumer", graceful::Restart::on_failure(), || consume());
    /// # }
    /// ```
    pub fn on_failure() -> Self {
        Restart {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            restarts: 5,
            within: Duration::from_secs(60),
            after_return: false,
        }
    }

    /// Restarts a run however it ended, a clean return too (Erlang/OTP's `permanent` child):
    /// for a part that must always run, such as a poller whose loop may return. A clean return
    /// counts toward the limit as a failure does; past the limit it ends the service (logged),
    /// and a failure stops the process.
    ///
    /// ```
    /// let policy = graceful::Restart::always();
    /// assert_ne!(policy, graceful::Restart::on_failure());
    /// ```
    pub fn always() -> Self {
        Restart {
            after_return: true,
            ..Restart::on_failure()
        }
    }

    /// The back-off: `initial` before the first restart, doubling with each restart counted in
    /// the window, never more than `max` (a `max` below `initial` is taken as `initial`); each
    /// delay is then drawn between half of that and all of it. `Duration::ZERO` for both
    /// restarts at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = graceful::Restart::on_failure()
    ///     .backoff(Duration::from_secs(1), Duration::from_secs(60));
    /// # let _ = policy;
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max.max(initial);
        self
    }

    /// The limit: at most `restarts` restarts within any `within`; the failure after them
    /// stops the process. `at_most(0, ..)` never restarts. The service keeps the instants of
    /// its restarts within the window: at most `restarts` of them.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = graceful::Restart::on_failure().at_most(10, Duration::from_secs(300));
    /// # let _ = policy;
    /// ```
    pub fn at_most(mut self, restarts: u32, within: Duration) -> Self {
        self.restarts = restarts;
        self.within = within;
        self
    }

    /// Whether a run that returned cleanly is restarted ([`Restart::always`]).
    pub(crate) fn after_return(&self) -> bool {
        self.after_return
    }
}

/// One service's restarts: when they happened (within the window, at most the limit's count),
/// how many in all, and the seed of its jitter.
pub(crate) struct Restarts {
    policy: Restart,
    recent: VecDeque<Instant>,
    rng: u64,
}

impl Restarts {
    pub(crate) fn new(policy: Restart) -> Self {
        Restarts {
            policy,
            recent: VecDeque::new(),
            rng: seed(),
        }
    }

    /// The back-off before the next restart, if the limit allows one now; `None` past it.
    /// Call [`restarted`](Self::restarted) when the restart happens.
    pub(crate) fn next(&mut self, now: Instant) -> Option<Duration> {
        let within = self.policy.within;
        while let Some(&oldest) = self.recent.front() {
            if now.saturating_duration_since(oldest) >= within {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= self.policy.restarts as usize {
            return None;
        }
        let nominal = nominal(&self.policy, self.recent.len());
        Some(jitter(nominal, splitmix(&mut self.rng)))
    }

    /// A restart happened at `now`.
    pub(crate) fn restarted(&mut self, now: Instant) {
        self.recent.push_back(now);
    }

    /// The limit, for the log: restarts, window.
    pub(crate) fn limit(&self) -> (u32, Duration) {
        (self.policy.restarts, self.policy.within)
    }
}

/// `initial × 2^count`, at most `max`; saturating.
fn nominal(policy: &Restart, count: usize) -> Duration {
    let factor = 1u32 << count.min(31);
    policy.initial.saturating_mul(factor).min(policy.max)
}

/// Between half of `nominal` and `nominal` ("equal jitter"): spread, yet never near zero, so a
/// service that fails at once cannot spin.
fn jitter(nominal: Duration, random: u64) -> Duration {
    let half = nominal / 2;
    let span = u64::try_from((nominal - half).as_nanos()).unwrap_or(u64::MAX);
    let extra = match span.checked_add(1) {
        Some(range) => random % range,
        None => random,
    };
    half.saturating_add(Duration::from_nanos(extra))
}

/// A seed that differs between services and between processes: std's hasher keys are random
/// per process, and the counter separates the services of one process.
fn seed() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    std::collections::hash_map::RandomState::new().hash_one(count)
}

/// splitmix64: a small, well-spread generator, plenty for jitter.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_max_and_the_jitter_keeps_at_least_half() {
        let policy = Restart::on_failure()
            .backoff(Duration::from_millis(100), Duration::from_millis(1000))
            .at_most(10, Duration::from_secs(60));
        let nominals: Vec<u128> = (0..6).map(|n| nominal(&policy, n).as_millis()).collect();
        assert_eq!(nominals, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(
            nominal(&policy, usize::MAX),
            Duration::from_millis(1000),
            "saturates"
        );
        let mut state = 7;
        for _ in 0..1000 {
            let delay = jitter(Duration::from_millis(800), splitmix(&mut state));
            assert!(
                delay >= Duration::from_millis(400) && delay <= Duration::from_millis(800),
                "{delay:?}"
            );
        }
        assert_eq!(jitter(Duration::ZERO, 12345), Duration::ZERO);
        assert!(jitter(Duration::MAX, u64::MAX) >= Duration::MAX / 2);
    }

    #[test]
    fn the_limit_counts_restarts_within_the_window_only() {
        let policy = Restart::on_failure()
            .backoff(Duration::from_millis(10), Duration::from_millis(10))
            .at_most(2, Duration::from_secs(60));
        let mut restarts = Restarts::new(policy);
        let start = Instant::now();
        assert!(restarts.next(start).is_some());
        restarts.restarted(start);
        assert!(restarts.next(start).is_some());
        restarts.restarted(start);
        assert_eq!(restarts.next(start), None, "two within a minute");
        let later = start + Duration::from_secs(61);
        assert!(restarts.next(later).is_some(), "the window moved on");
        assert!(restarts.recent.is_empty());
        let never = Restarts::new(Restart::on_failure().at_most(0, Duration::from_secs(1)));
        let mut never = never;
        assert_eq!(never.next(start), None);
    }
}
