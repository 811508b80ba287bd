//! What the figures were measured on: cores, CPU, kernel, compiler, load, date.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The machine and the moment, for the header of the results.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub rustc: String,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
}

impl Machine {
    /// Looks around.
    pub fn describe() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, name)| name.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown kernel".to_owned(), |k| k.trim().to_owned());
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let rustc = Command::new(rustc)
            .arg("--version")
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown rustc".to_owned());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Machine {
            cores,
            cpu,
            kernel,
            rustc,
            date: utc(now),
        }
    }
}

/// The 1-minute load average, as the kernel reports it.
pub fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|avg| avg.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The share of all cores busy (not idle, not waiting for I/O) over `window`, from
/// `/proc/stat`: what the neighbours are using right now (the load average lags a minute).
pub fn busy(window: Duration) -> f64 {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
        let fields: Vec<u64> = cpu
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let idle = fields.get(3)? + fields.get(4)?;
        Some((fields.iter().sum(), idle))
    }
    let Some((total0, idle0)) = sample() else {
        return f64::NAN;
    };
    std::thread::sleep(window);
    let Some((total1, idle1)) = sample() else {
        return f64::NAN;
    };
    let total = total1.saturating_sub(total0);
    if total == 0 {
        return 0.0;
    }
    1.0 - idle1.saturating_sub(idle0) as f64 / total as f64
}

/// Waits, at most `patience`, until less than `threshold` of the cores are busy; returns the
/// last share measured.
pub fn wait_quiet(threshold: f64, patience: Duration) -> f64 {
    let until = std::time::Instant::now() + patience;
    loop {
        let busy = busy(Duration::from_millis(500));
        if busy < threshold || std::time::Instant::now() >= until {
            return busy;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) for seconds since the Unix epoch.
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (year, month, day) = civil_from_days(days);
    let rest = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), after Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_764_110_000), "2025-11-25 22:33 UTC");
    }
}
