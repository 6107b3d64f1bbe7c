//! Reading a tickroom server's `/metrics`, for the end-to-end tests and the
//! bench harness: the Prometheus text format parsed by `prometheus-parse`,
//! samples looked up by the series as a person writes it
//! (`tickroom_frames_dropped_total{reason="stale"}`), and quantiles from the
//! difference of two scrapes of a cumulative histogram, so a measurement
//! covers exactly the window between the scrapes.
//!
//! It only reads text it is given: fetching it is [`crate::http`]'s job.

use std::collections::BTreeMap;

use prometheus_parse::{Sample, Value};

/// One scrape of `/metrics`.
#[derive(Debug, Clone)]
pub struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses Prometheus text exposition. Comments, unknown and malformed
    /// lines are skipped (`prometheus-parse` keeps what it understands).
    pub fn parse(text: &str) -> Scrape {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Scrape {
            samples: prometheus_parse::Scrape::parse(lines)
                .map(|s| s.samples)
                .unwrap_or_default(),
        }
    }

    /// The value of one counter, gauge or untyped sample, given as written in
    /// the exposition: a name, optionally with all of its labels
    /// (`name{label="value",...}`, in any order). `None` when absent.
    pub fn value(&self, series: &str) -> Option<f64> {
        let wanted = Selector::parse(series)?;
        self.samples
            .iter()
            .filter(|s| wanted.matches(s))
            .find_map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
                Value::Histogram(_) | Value::Summary(_) => None,
            })
    }

    /// [`Self::value`], 0 when absent (a counter nothing incremented yet).
    pub fn get(&self, series: &str) -> f64 {
        self.value(series).unwrap_or(0.0)
    }

    /// `self - earlier` for one series (a counter over a window).
    pub fn delta(&self, earlier: &Scrape, series: &str) -> f64 {
        self.get(series) - earlier.get(series)
    }

    /// The cumulative buckets of the unlabelled histogram `name` as
    /// (upper bound, count), sorted, including `+Inf`; empty when absent.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|s| s.metric == name && s.labels.is_empty())
            .find_map(|s| match &s.value {
                Value::Histogram(h) => Some(h.iter().map(|b| (b.less_than, b.count)).collect()),
                _ => None,
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

/// A series as written by a caller: metric name and labels.
struct Selector(Sample);

impl Selector {
    /// Parsed by the same parser as the scrape, as a one-line exposition.
    fn parse(series: &str) -> Option<Selector> {
        let line = format!("{} 0", series.trim());
        prometheus_parse::Scrape::parse(std::iter::once(Ok(line)))
            .ok()?
            .samples
            .pop()
            .map(Selector)
    }

    fn matches(&self, s: &Sample) -> bool {
        s.metric == self.0.metric && *s.labels == *self.0.labels
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

    /// Shaped like the server's exporter output (metrics-exporter-prometheus).
    const A: &str = "# HELP h tick duration\n# TYPE h histogram\n\
        h_bucket{le=\"0.001\"} 10\nh_bucket{le=\"0.002\"} 10\nh_bucket{le=\"+Inf\"} 10\n\
        h_sum 0.005\nh_count 10\n\
        # TYPE c_total counter\nc_total{reason=\"stale\"} 5\nc_total{reason=\"closed\"} 1\n\
        # TYPE g gauge\ng 3\n";
    const B: &str = "# TYPE h histogram\n\
        h_bucket{le=\"0.001\"} 60\nh_bucket{le=\"0.002\"} 109\nh_bucket{le=\"+Inf\"} 110\n\
        h_sum 0.1\nh_count 110\n\
        # TYPE c_total counter\nc_total{reason=\"stale\"} 12\nc_total{reason=\"closed\"} 1\n\
        # TYPE g gauge\ng 4\nuntyped{a=\"1\",b=\"2\"} 7\n";

    #[test]
    fn looks_samples_up_by_series_as_written() {
        let (a, b) = (Scrape::parse(A), Scrape::parse(B));
        assert_eq!(a.get("c_total{reason=\"stale\"}"), 5.0);
        assert_eq!(a.get("c_total{reason=\"closed\"}"), 1.0);
        assert_eq!(a.get("g"), 3.0);
        assert_eq!(a.get("h_count"), 10.0);
        assert_eq!(a.value("missing"), None);
        assert_eq!(a.get("missing"), 0.0);
        assert_eq!(a.value("c_total"), None, "labels must match exactly");
        assert_eq!(b.get("untyped{b=\"2\",a=\"1\"}"), 7.0, "in any order");
        assert_eq!(b.delta(&a, "c_total{reason=\"stale\"}"), 7.0);
        assert_eq!(a.buckets("h").len(), 3);
        assert_eq!(a.buckets("h")[2], (f64::INFINITY, 10.0));
        assert!(a.buckets("g").is_empty());
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
