//! Reading the server's own `/metrics`: a tiny parser for the Prometheus text
//! format (just samples: `name{labels} value`), and quantiles from the
//! difference of two scrapes of a cumulative histogram, so a measurement
//! covers exactly the window between the scrapes.

use std::collections::BTreeMap;

/// One scrape: series (name plus labels, as written) → value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape(pub BTreeMap<String, f64>);

impl Scrape {
    /// Parses Prometheus text exposition; comment and malformed lines are skipped.
    pub fn parse(text: &str) -> Scrape {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The value follows the last space (labels may contain spaces only inside quotes,
            // which tickroom's do not).
            if let Some((series, value)) = line.rsplit_once(' ')
                && let Ok(v) = value.parse::<f64>()
            {
                map.insert(series.to_owned(), v);
            }
        }
        Scrape(map)
    }

    /// The value of `series`, 0 when absent.
    pub fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// `self - earlier` for one series (counters over a window).
    pub fn delta(&self, earlier: &Scrape, series: &str) -> f64 {
        self.get(series) - earlier.get(series)
    }

    /// The cumulative buckets of histogram `name` as (upper bound, count), sorted,
    /// including `+Inf`.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut out: Vec<(f64, f64)> = self
            .0
            .iter()
            .filter_map(|(k, &v)| {
                let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((bound, v))
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

/// A histogram over a window: per-bucket counts (not cumulative) with bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowHistogram {
    /// (lower bound, upper bound, count) per bucket.
    pub buckets: Vec<(f64, f64, f64)>,
    /// Samples in the window.
    pub count: f64,
}

impl WindowHistogram {
    /// The histogram of samples recorded between scrapes `a` and `b`.
    pub fn between(a: &Scrape, b: &Scrape, name: &str) -> WindowHistogram {
        let before: BTreeMap<u64, f64> = a
            .buckets(name)
            .into_iter()
            .map(|(le, c)| (le.to_bits(), c))
            .collect();
        let mut lower = 0.0;
        let mut prev_cum = 0.0;
        let mut buckets = Vec::new();
        for (le, cum_b) in b.buckets(name) {
            let cum = cum_b - before.get(&le.to_bits()).copied().unwrap_or(0.0);
            buckets.push((lower, le, (cum - prev_cum).max(0.0)));
            prev_cum = cum;
            lower = le;
        }
        WindowHistogram {
            count: prev_cum,
            buckets,
        }
    }

    /// The `q` quantile (0..=1), interpolated linearly inside its bucket; a
    /// quantile in the `+Inf` bucket returns that bucket's lower bound.
    /// `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * self.count;
        let mut seen = 0.0;
        for &(lo, hi, n) in &self.buckets {
            if n > 0.0 && seen + n >= rank {
                if hi.is_infinite() {
                    return Some(lo);
                }
                let within = ((rank - seen) / n).clamp(0.0, 1.0);
                return Some(lo + (hi - lo) * within);
            }
            seen += n;
        }
        self.buckets.iter().rev().find(|b| b.2 > 0.0).map(|b| b.0)
    }

    /// Upper bound of the highest non-empty bucket: the maximum is at most this.
    pub fn max_bound(&self) -> Option<f64> {
        self.buckets.iter().rev().find(|b| b.2 > 0.0).map(|b| b.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "# HELP x\n# TYPE h histogram\n\
        h_bucket{le=\"0.001\"} 10\nh_bucket{le=\"0.002\"} 10\nh_bucket{le=\"+Inf\"} 10\n\
        h_count 10\nc_total{reason=\"stale\"} 5\n";
    const B: &str = "h_bucket{le=\"0.001\"} 60\nh_bucket{le=\"0.002\"} 109\nh_bucket{le=\"+Inf\"} 110\n\
        h_count 110\nc_total{reason=\"stale\"} 12\n";

    #[test]
    fn parses_samples_and_skips_comments() {
        let s = Scrape::parse(A);
        assert_eq!(s.get("c_total{reason=\"stale\"}"), 5.0);
        assert_eq!(s.get("missing"), 0.0);
        assert_eq!(s.buckets("h").len(), 3);
        assert_eq!(Scrape::parse(B).delta(&s, "c_total{reason=\"stale\"}"), 7.0);
    }

    #[test]
    fn window_quantiles_interpolate_within_buckets() {
        let h = WindowHistogram::between(&Scrape::parse(A), &Scrape::parse(B), "h");
        assert_eq!(h.count, 100.0);
        // 50 samples in (0, 1 ms], 49 in (1, 2 ms], 1 above.
        assert_eq!(h.quantile(0.5), Some(0.001));
        let p75 = h.quantile(0.75).unwrap();
        assert!((p75 - (0.001 + 0.001 * 25.0 / 49.0)).abs() < 1e-12, "{p75}");
        assert_eq!(
            h.quantile(1.0),
            Some(0.002),
            "a sample beyond the last bound reports that bound"
        );
        assert_eq!(h.max_bound(), Some(f64::INFINITY));
    }

    #[test]
    fn an_empty_window_has_no_quantiles() {
        let s = Scrape::parse(B);
        let h = WindowHistogram::between(&s, &s, "h");
        assert_eq!(h.count, 0.0);
        assert_eq!(h.quantile(0.99), None);
    }
}
