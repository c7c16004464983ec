//! Summary statistics over repeated measurements.

use std::time::Duration;

/// Median, minimum and maximum of a set of samples (seconds or bytes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Median.
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Number of samples.
    pub n: usize,
}

impl Summary {
    /// Summarizes `samples`; empty input gives zeros.
    pub fn of(samples: &[f64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let mid = s.len() / 2;
        let median = if s.len().is_multiple_of(2) {
            (s[mid - 1] + s[mid]) / 2.0
        } else {
            s[mid]
        };
        Summary {
            median,
            min: s[0],
            max: s[s.len() - 1],
            n: s.len(),
        }
    }

    /// Summarizes durations in seconds.
    pub fn of_durations(samples: &[Duration]) -> Summary {
        Summary::of(
            &samples
                .iter()
                .map(Duration::as_secs_f64)
                .collect::<Vec<_>>(),
        )
    }
}

/// Geometric mean of positive values (`None` if there are none).
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

/// Runs `f` `n` times and summarizes the wall time of each run.
pub fn time_runs(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = std::time::Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    Ok(Summary::of_durations(&samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_geomean() {
        let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        assert_eq!(Summary::of(&[5.0, 1.0, 3.0]).median, 3.0);
        let g = geomean([1.0, 4.0]).unwrap();
        assert!((g - 2.0).abs() < 1e-12);
        assert!(geomean([]).is_none());
    }
}
