//! Durations on the command line (`30s`, `2m`, `1m30s`, `250ms`, `1.5s`),
//! parsed by the `humantime` crate, as the server's flags are. A bare number
//! still means seconds (`--duration 45`), as it always did here.

use std::time::Duration;

use crate::Error;

/// Parses a duration such as `30s`, `2m`, `1h`, `1m30s`, `1m 30s`, `250ms`,
/// `1.5s` or `100us` (humantime's units: `ns`, `us`/`µs`, `ms`, `s`/`sec`,
/// `m`/`min`, `h`/`hr`, `d`, ...). A bare number means seconds.
pub fn parse_duration(input: &str) -> Result<Duration, Error> {
    let s = input.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = s
            .parse()
            .map_err(|_| Error::parse("duration", input, "not a number"))?;
        return Duration::try_from_secs_f64(secs)
            .map_err(|e| Error::parse("duration", input, e.to_string()));
    }
    humantime::parse_duration(s).map_err(|e| Error::parse("duration", input, e.to_string()))
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
        assert_eq!(ok("0.5"), Duration::from_millis(500));
        assert_eq!(ok(" 2min "), Duration::from_secs(120));
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "", "s", "10x", "1.2.3s", "1.2.3", "ms10", "10s5", "-3s", "1e9s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
        let err = parse_duration("10x").unwrap_err().to_string();
        assert!(err.contains("10x") && err.contains("unit"), "{err}");
    }
}
