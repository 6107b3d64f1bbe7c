//! Human-friendly durations for the command line (`30s`, `2m`, `1m30s`,
//! `250ms`): a tiny parser instead of a dependency, plus the matching
//! formatter used in summaries and fail-if messages.

use std::time::Duration;

use crate::Error;

/// Parses a duration such as `30s`, `2m`, `1h`, `1m30s`, `250ms`, `1.5s` or
/// `100us`. A bare number means seconds. Units: `ns`, `us`/`µs`, `ms`,
/// `s`/`sec`, `m`/`min`, `h`/`hr`, `d`.
pub fn parse_duration(input: &str) -> Result<Duration, Error> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::parse("duration", input, "empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s
            .parse()
            .map_err(|_| Error::parse("duration", input, "not a number"))?;
        return Ok(Duration::from_secs_f64(secs));
    }
    let mut nanos = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(Error::parse("duration", input, "expected a number"));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| Error::parse("duration", input, "not a number"))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !(c.is_alphabetic()))
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let factor = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" | "sec" | "secs" => 1e9,
            "m" | "min" | "mins" => 60e9,
            "h" | "hr" | "hrs" => 3600e9,
            "d" => 86_400e9,
            "" => return Err(Error::parse("duration", input, "missing unit")),
            _ => {
                return Err(Error::parse(
                    "duration",
                    input,
                    format!("unknown unit {unit:?}"),
                ));
            }
        };
        nanos += value * factor;
        rest = &rest[unit_len..];
    }
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err(Error::parse("duration", input, "too large"));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// Formats a duration compactly: `250ms`, `1.5s`, `2m30s`, `850us`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        trim(format!("{:.1}", nanos as f64 / 1e3)) + "us"
    } else if nanos < 1_000_000_000 {
        trim(format!("{:.1}", nanos as f64 / 1e6)) + "ms"
    } else if nanos < 60_000_000_000 {
        trim(format!("{:.2}", nanos as f64 / 1e9)) + "s"
    } else {
        let secs = d.as_secs();
        let (m, s) = (secs / 60, secs % 60);
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1m 30s"), Duration::from_secs(90));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("100us"), Duration::from_micros(100));
        assert_eq!(ok("100µs"), Duration::from_micros(100));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("45"), Duration::from_secs(45));
        assert_eq!(ok(" 2min "), Duration::from_secs(120));
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "s", "10x", "1.2.3s", "ms10", "10s5", "-3s", "1e9s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(150)), "2m30s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_micros(850)), "850us");
    }
}
