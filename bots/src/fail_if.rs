//! `--fail-if` conditions: thresholds that turn a run into a failed CI step
//! (exit code 2), e.g. `p99-latency>100ms`, `missed-ticks>0.1%`,
//! `connect-errors>0`.
//!
//! Figures are those of the normal bots (slow readers are meant to fall
//! behind), except `connect-errors`, which counts every bot.

use std::{fmt, str::FromStr, time::Duration};

use crate::{Error, Report, duration::parse_duration};

/// The figure a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `p50-latency`: median input-to-ack latency.
    P50Latency,
    /// `p99-latency`.
    P99Latency,
    /// `p999-latency` (or `p99.9-latency`).
    P999Latency,
    /// `max-latency`.
    MaxLatency,
    /// `p99-connect`: connect time (TCP + handshake + Welcome).
    P99Connect,
    /// `p99-interarrival`: time between snapshots.
    P99Interarrival,
    /// `missed-ticks`: a count, or a share of ticks with `%`.
    MissedTicks,
    /// `connect-errors`: failed connection attempts (all bots).
    ConnectErrors,
    /// `disconnects`: connections the server or network ended.
    Disconnects,
}

impl Metric {
    const NAMES: [(&'static str, Metric); 10] = [
        ("p50-latency", Metric::P50Latency),
        ("p99-latency", Metric::P99Latency),
        ("p999-latency", Metric::P999Latency),
        ("p99.9-latency", Metric::P999Latency),
        ("max-latency", Metric::MaxLatency),
        ("p99-connect", Metric::P99Connect),
        ("p99-interarrival", Metric::P99Interarrival),
        ("missed-ticks", Metric::MissedTicks),
        ("connect-errors", Metric::ConnectErrors),
        ("disconnects", Metric::Disconnects),
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }

    fn is_time(self) -> bool {
        matches!(
            self,
            Metric::P50Latency
                | Metric::P99Latency
                | Metric::P999Latency
                | Metric::MaxLatency
                | Metric::P99Connect
                | Metric::P99Interarrival
        )
    }
}

/// Comparison of the measured figure against the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => measured > threshold,
            Op::Ge => measured >= threshold,
            Op::Lt => measured < threshold,
            Op::Le => measured <= threshold,
        }
    }
}

/// A threshold: a time, a plain count, or a share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// For latency-like metrics.
    Time(Duration),
    /// For counts.
    Count(u64),
    /// A share in `0.0..=1.0` (written as a percentage).
    Fraction(f64),
}

/// One condition, e.g. `p99-latency>100ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailIf {
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// Against what.
    pub threshold: Threshold,
}

impl FromStr for FailIf {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::parse("fail-if condition", s, reason);
        let text = s.trim();
        let at = text
            .find(['>', '<'])
            .ok_or_else(|| bad("expected METRIC>VALUE (or >=, <, <=)".into()))?;
        let (name, rest) = text.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else {
            (Op::Lt, &rest[1..])
        };
        let name = name.trim().to_ascii_lowercase();
        let metric = Metric::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, m)| m)
            .ok_or_else(|| {
                let names: Vec<_> = Metric::NAMES.iter().map(|(n, _)| *n).collect();
                bad(format!(
                    "unknown metric {name:?}; known: {}",
                    names.join(", ")
                ))
            })?;
        let value = value.trim();
        let threshold = if metric.is_time() {
            if !value.contains(|c: char| c.is_alphabetic()) {
                return Err(bad("a time needs a unit, e.g. 100ms".into()));
            }
            Threshold::Time(parse_duration(value)?)
        } else if let Some(pct) = value.strip_suffix('%') {
            if metric != Metric::MissedTicks {
                return Err(bad(format!(
                    "{} takes a count, not a percentage",
                    metric.name()
                )));
            }
            let pct: f64 = pct
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=100.0).contains(p))
                .ok_or_else(|| bad("percentage must be 0..=100".into()))?;
            Threshold::Fraction(pct / 100.0)
        } else {
            Threshold::Count(
                value
                    .parse()
                    .map_err(|_| bad("expected a whole number".into()))?,
            )
        };
        Ok(FailIf {
            metric,
            op,
            threshold,
        })
    }
}

impl fmt::Display for FailIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.metric.name(), self.op.symbol())?;
        match self.threshold {
            Threshold::Time(d) => write!(f, "{}", humantime::format_duration(d)),
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Fraction(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

/// Parses a comma-separated list of conditions (`--fail-if a>1,b>2`).
pub fn parse_list(s: &str) -> Result<Vec<FailIf>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

impl FailIf {
    /// `Some(explanation)` when the condition is met by `report` (the run
    /// failed), `None` when it is not. A time condition with no samples at
    /// all is met: a gate must not pass because nothing was measured.
    pub fn evaluate(&self, report: &Report) -> Option<String> {
        let g = &report.normal;
        let (measured, threshold, shown) = match self.threshold {
            Threshold::Time(limit) => {
                let summary = match self.metric {
                    Metric::P99Connect => g.connect_ms,
                    Metric::P99Interarrival => g.interarrival_ms,
                    _ => g.ack_latency_ms,
                };
                let Some(s) = summary else {
                    return Some(format!("{self}: nothing was measured"));
                };
                let v = match self.metric {
                    Metric::P50Latency => s.p50,
                    Metric::P999Latency => s.p999,
                    Metric::MaxLatency => s.max,
                    _ => s.p99,
                };
                (v, limit.as_secs_f64() * 1000.0, format!("{v:.2}ms"))
            }
            Threshold::Fraction(x) => {
                let v = g.missed_tick_fraction;
                (v, x, format!("{:.3}%", v * 100.0))
            }
            Threshold::Count(n) => {
                let v = match self.metric {
                    Metric::ConnectErrors => report.all.counts.connect_errors,
                    Metric::Disconnects => g.counts.disconnects,
                    _ => g.counts.missed_ticks,
                };
                (v as f64, n as f64, v.to_string())
            }
        };
        self.op
            .holds(measured, threshold)
            .then(|| format!("{self} (measured {shown})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GroupReport, ProcessReport, Summary};

    fn report() -> Report {
        let summary = Summary {
            count: 100,
            min: 1.0,
            mean: 20.0,
            p50: 20.0,
            p90: 40.0,
            p99: 80.0,
            p999: 150.0,
            max: 200.0,
        };
        let mut normal = GroupReport {
            bots: 10,
            ack_latency_ms: Some(summary),
            connect_ms: Some(summary),
            missed_tick_fraction: 0.002,
            ..GroupReport::default()
        };
        normal.counts.missed_ticks = 4;
        normal.counts.disconnects = 1;
        let mut all = normal.clone();
        all.counts.connect_errors = 3;
        Report {
            endpoint: "ws://h:1/ws".into(),
            game: "test-game".into(),
            seed: 1,
            bots: 10,
            rooms: 1,
            input_hz: 30,
            mix: "wander=1".into(),
            duration_s: 1.0,
            all,
            normal,
            slow_readers: GroupReport::default(),
            behaviours: Default::default(),
            process: ProcessReport::default(),
        }
    }

    #[test]
    fn parses_conditions() {
        let c: FailIf = "p99-latency>100ms".parse().unwrap();
        assert_eq!(
            c,
            FailIf {
                metric: Metric::P99Latency,
                op: Op::Gt,
                threshold: Threshold::Time(Duration::from_millis(100))
            }
        );
        assert_eq!(c.to_string(), "p99-latency>100ms");
        // Shown as humantime writes it, which parses back to the same condition.
        let c: FailIf = "p99-latency>1.5s".parse().unwrap();
        assert_eq!(c.to_string(), "p99-latency>1s 500ms");
        assert_eq!(c.to_string().parse::<FailIf>().unwrap(), c);
        let c: FailIf = " missed-ticks >= 0.1% ".parse().unwrap();
        assert_eq!(c.op, Op::Ge);
        assert_eq!(c.threshold, Threshold::Fraction(0.001));
        let c: FailIf = "connect-errors>0".parse().unwrap();
        assert_eq!(
            (c.metric, c.threshold),
            (Metric::ConnectErrors, Threshold::Count(0))
        );
        let c: FailIf = "P99.9-LATENCY<=1s".parse().unwrap();
        assert_eq!((c.metric, c.op), (Metric::P999Latency, Op::Le));
        let list = parse_list("p50-latency>30ms, disconnects>0,").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].metric, Metric::Disconnects);
    }

    #[test]
    fn refuses_bad_conditions() {
        for bad in [
            "p99-latency",
            "p99-latency>100",
            "p99-latency>fast",
            "p42-latency>1ms",
            "connect-errors>1%",
            "connect-errors>-1",
            "missed-ticks>150%",
            "missed-ticks>x",
        ] {
            assert!(bad.parse::<FailIf>().is_err(), "{bad:?} parsed");
        }
        assert!(parse_list("disconnects>0,nope>1").is_err());
    }

    #[test]
    fn evaluates_against_the_report() {
        let r = report();
        let met = |s: &str| s.parse::<FailIf>().unwrap().evaluate(&r);
        assert_eq!(
            met("p99-latency>50ms").as_deref(),
            Some("p99-latency>50ms (measured 80.00ms)")
        );
        assert_eq!(met("p99-latency>100ms"), None);
        assert!(met("p50-latency>=20ms").is_some());
        assert!(met("p999-latency>100ms").is_some());
        assert!(met("max-latency<1s").is_some());
        assert!(met("p99-connect>1s").is_none());
        assert!(met("missed-ticks>0.1%").is_some());
        assert!(met("missed-ticks>0.5%").is_none());
        assert!(met("missed-ticks>3").is_some());
        assert!(met("missed-ticks>4").is_none());
        assert!(met("connect-errors>0").is_some());
        assert!(met("connect-errors>5").is_none());
        assert!(met("disconnects>0").is_some());
        // Nothing measured fails a time condition.
        assert!(
            met("p99-interarrival>1s")
                .unwrap()
                .contains("nothing was measured")
        );
    }
}
