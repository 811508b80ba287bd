//! Instants a duration later, saturating: `Duration::MAX` is a valid timeout ("never"), and
//! no setting, however large, may overflow an `Instant` and panic in the middle of a shutdown.

use std::time::{Duration, Instant};

/// About thirty years: what "never" becomes when `at + duration` does not fit in an
/// `Instant` (tokio's timer uses the same horizon).
const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `at + duration`, or a point so far away it will never be reached.
pub(crate) fn later(at: Instant, duration: Duration) -> Instant {
    at.checked_add(duration)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(later(now, Duration::MAX) >= now + FAR);
    }
}
