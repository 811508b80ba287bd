//! Medians, percentiles by nearest rank and slopes: what the tables report.

use std::time::Duration;

/// The summary of a series of measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p90: f64,
    pub count: usize,
}

impl Summary {
    /// The median and the 90th percentile (nearest rank) of `values`; `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let p90 = nearest_rank(&sorted, 90)?;
        Some(Summary {
            median,
            p90,
            count: n,
        })
    }

    /// The summary of durations, in milliseconds.
    pub fn of_millis(durations: &[Duration]) -> Option<Summary> {
        let millis: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Summary::of(&millis)
    }
}

/// The `percent`th percentile of `sorted` (in ascending order) by nearest rank: the smallest
/// value with at least `percent` % of the values at or below it; `None` if there are none.
pub fn nearest_rank<T: Copy>(sorted: &[T], percent: usize) -> Option<T> {
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted.get(rank.max(1) - 1).copied()
}

/// The least-squares slope of `y` over `x`; `None` with fewer than two distinct `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let summary = Summary::of(&values).unwrap();
        assert_eq!(summary.median, 5.5);
        assert_eq!(summary.p90, 9.0);
        assert_eq!(summary.count, 10);

        let odd = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(odd.median, 2.0);
        assert_eq!(odd.p90, 3.0);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn p90_of_thirty() {
        let values: Vec<f64> = (1..=30).map(f64::from).collect();
        assert_eq!(Summary::of(&values).unwrap().p90, 27.0);
    }

    #[test]
    fn slope_of_a_line() {
        let points = [(0.0, 1.0), (10.0, 1.5), (1000.0, 51.0), (10000.0, 501.0)];
        assert!((slope(&points).unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(slope(&[(1.0, 2.0)]), None);
        assert_eq!(slope(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }
}
