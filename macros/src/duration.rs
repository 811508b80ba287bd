//! Durations written as humantime writes them: `"500ms"`, `"10s"`, `"1m 30s"`, `"1.5h"`.
//!
//! A duration is one or more parts, each a number (optionally with a decimal fraction)
//! followed by a unit; spaces may separate the parts, and a number from its unit. The
//! runtime reads `GRACEFUL_TIMEOUT` with humantime itself; this is the compile-time twin,
//! limited to the units that make sense for a shutdown.

use std::fmt;
use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Every unit, each spelling of it, and its length in nanoseconds.
const UNITS: &[(&[&str], u128)] = &[
    (&["ns"], 1),
    // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU look alike: accept both.
    (&["us", "\u{b5}s", "\u{3bc}s"], 1_000),
    (&["ms"], 1_000_000),
    (&["s", "sec", "secs", "second", "seconds"], NANOS_PER_SEC),
    (
        &["m", "min", "mins", "minute", "minutes"],
        60 * NANOS_PER_SEC,
    ),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600 * NANOS_PER_SEC),
    (&["d", "day", "days"], 86_400 * NANOS_PER_SEC),
];

/// What is wrong with a duration literal. The caller adds the literal and an example.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    Empty,
    Negative,
    ExpectedNumber(String),
    BadNumber(String),
    MissingUnit(String),
    UnknownUnit(String),
    TooLarge,
    TooPrecise,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("the duration is empty"),
            Error::Negative => f.write_str("a duration cannot be negative"),
            Error::ExpectedNumber(found) => write!(f, "expected a number, found `{found}`"),
            Error::BadNumber(number) => write!(f, "`{number}` is not a number"),
            Error::MissingUnit(number) => {
                write!(
                    f,
                    "`{number}` has no unit (write `{number}s` or `{number}ms`)"
                )
            }
            Error::UnknownUnit(unit) => write!(
                f,
                "unknown unit `{unit}`; expected one of `ns`, `us`, `ms`, `s`, `m`, `h`, `d` \
                 (or `sec`, `min`, `hour`, `day` and their plurals)"
            ),
            Error::TooLarge => f.write_str(
                "a `Duration` holds at most 18446744073709551615.999999999s \
                 (about 584 billion years)",
            ),
            Error::TooPrecise => f.write_str("the duration is more precise than a nanosecond"),
        }
    }
}

/// Parses a duration such as `"500ms"`, `"10s"` or `"1m 30s"`.
pub fn parse(text: &str) -> Result<Duration, Error> {
    let mut rest = text.trim_start();
    if rest.is_empty() {
        return Err(Error::Empty);
    }
    if rest.starts_with('-') {
        return Err(Error::Negative);
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (int, after) = split_digits(rest);
        if int.is_empty() {
            let found = rest.split_whitespace().next().unwrap_or(rest);
            return Err(Error::ExpectedNumber(found.to_owned()));
        }
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot),
            None => ("", after),
        };
        let number = &rest[..rest.len() - after.len()];
        if number.ends_with('.') {
            return Err(Error::BadNumber(number.to_owned()));
        }

        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(Error::MissingUnit(number.to_owned()));
        }
        let per_unit = nanos_per(unit).ok_or_else(|| Error::UnknownUnit(unit.to_owned()))?;

        let part = part_nanos(int, fraction, per_unit)?;
        total = total.checked_add(part).ok_or(Error::TooLarge)?;
        rest = after.trim_start();
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| Error::TooLarge)?;
    // The remainder is below one second, so it fits.
    let nanos = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Writes a duration the way [`parse`] reads it, largest unit first: `"1m 30s"`.
pub fn display(duration: Duration) -> String {
    let mut left = duration.as_nanos();
    if left == 0 {
        return "0s".to_owned();
    }
    let mut parts = Vec::new();
    for &(names, per_unit) in UNITS.iter().rev() {
        let count = left / per_unit;
        if count > 0 {
            parts.push(format!("{count}{}", names[0]));
            left %= per_unit;
        }
    }
    parts.join(" ")
}

fn split_digits(text: &str) -> (&str, &str) {
    let len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(len)
}

fn nanos_per(unit: &str) -> Option<u128> {
    UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit))
        .map(|&(_, nanos)| nanos)
}

/// `int.fraction` units, in nanoseconds, exactly. Leading zeros of `int` and trailing
/// zeros of `fraction` change nothing, however many there are.
fn part_nanos(int: &str, fraction: &str, per_unit: u128) -> Result<u128, Error> {
    let int = int.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    // Every `Duration` is below 2^128 ns, so a number `u128` cannot hold is too large.
    let int: u128 = match int {
        "" => 0,
        digits => digits.parse().map_err(|_| Error::TooLarge)?,
    };
    let mut nanos = int.checked_mul(per_unit).ok_or(Error::TooLarge)?;
    if !fraction.is_empty() {
        let digits = u32::try_from(fraction.len()).map_err(|_| Error::TooPrecise)?;
        let numerator: u128 = fraction.parse().map_err(|_| Error::TooPrecise)?;
        let denominator = 10u128.checked_pow(digits).ok_or(Error::TooPrecise)?;
        let scaled = numerator.checked_mul(per_unit).ok_or(Error::TooPrecise)?;
        if scaled % denominator != 0 {
            return Err(Error::TooPrecise);
        }
        nanos = nanos
            .checked_add(scaled / denominator)
            .ok_or(Error::TooLarge)?;
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn single_parts() {
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("1h"), Duration::from_secs(3_600));
        assert_eq!(ok("2d"), Duration::from_secs(2 * 86_400));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("0s"), Duration::ZERO);
    }

    #[test]
    fn every_spelling_of_every_unit() {
        let cases: &[(&str, Duration)] = &[
            ("ns", Duration::from_nanos(3)),
            ("us", Duration::from_micros(3)),
            ("\u{b5}s", Duration::from_micros(3)),
            ("\u{3bc}s", Duration::from_micros(3)),
            ("ms", Duration::from_millis(3)),
            ("s", Duration::from_secs(3)),
            ("sec", Duration::from_secs(3)),
            ("secs", Duration::from_secs(3)),
            ("second", Duration::from_secs(3)),
            ("seconds", Duration::from_secs(3)),
            ("m", Duration::from_secs(180)),
            ("min", Duration::from_secs(180)),
            ("mins", Duration::from_secs(180)),
            ("minute", Duration::from_secs(180)),
            ("minutes", Duration::from_secs(180)),
            ("h", Duration::from_secs(3 * 3_600)),
            ("hr", Duration::from_secs(3 * 3_600)),
            ("hrs", Duration::from_secs(3 * 3_600)),
            ("hour", Duration::from_secs(3 * 3_600)),
            ("hours", Duration::from_secs(3 * 3_600)),
            ("d", Duration::from_secs(3 * 86_400)),
            ("day", Duration::from_secs(3 * 86_400)),
            ("days", Duration::from_secs(3 * 86_400)),
        ];
        for &(unit, expected) in cases {
            assert_eq!(ok(&format!("3{unit}")), expected, "unit {unit}");
        }
    }

    #[test]
    fn several_parts_with_or_without_spaces() {
        assert_eq!(ok("1m 30s"), Duration::from_secs(90));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1h 2m 3s 4ms"), Duration::new(3_723, 4_000_000));
        assert_eq!(ok("  10 s  "), Duration::from_secs(10));
        assert_eq!(ok("1 minute 5 seconds"), Duration::from_secs(65));
    }

    #[test]
    fn fractions_that_are_exact() {
        assert_eq!(ok("1.5s"), Duration::from_millis(1_500));
        assert_eq!(ok("0.25h"), Duration::from_secs(900));
        assert_eq!(ok("2.000000001s"), Duration::new(2, 1));
    }

    #[test]
    fn errors() {
        assert_eq!(parse(""), Err(Error::Empty));
        assert_eq!(parse("   "), Err(Error::Empty));
        assert_eq!(parse("-5s"), Err(Error::Negative));
        assert_eq!(parse("10"), Err(Error::MissingUnit("10".into())));
        assert_eq!(parse("1m 30"), Err(Error::MissingUnit("30".into())));
        assert_eq!(parse("10x"), Err(Error::UnknownUnit("x".into())));
        assert_eq!(parse("10 weeks"), Err(Error::UnknownUnit("weeks".into())));
        assert_eq!(parse("5S"), Err(Error::UnknownUnit("S".into())));
        assert_eq!(
            parse("ten seconds"),
            Err(Error::ExpectedNumber("ten".into()))
        );
        assert_eq!(parse("10s, 5ms"), Err(Error::ExpectedNumber(",".into())));
        assert_eq!(parse("1.s"), Err(Error::BadNumber("1.".into())));
        assert_eq!(parse("0.5ns"), Err(Error::TooPrecise));
        assert_eq!(
            parse("99999999999999999999999999999999999999999d"),
            Err(Error::TooLarge)
        );
        assert_eq!(parse("99999999999999999999d"), Err(Error::TooLarge));
    }

    #[test]
    fn largest_duration_still_fits() {
        let max = format!("{}s", u64::MAX);
        assert_eq!(ok(&max), Duration::from_secs(u64::MAX));
        assert_eq!(parse(&format!("{max} 1s")), Err(Error::TooLarge));
    }

    #[test]
    fn huge_durations_are_exact() {
        assert_eq!(ok("5000000000000s"), Duration::from_secs(5_000_000_000_000));
        assert_eq!(
            ok("5000000000000d"),
            Duration::from_secs(432_000_000_000_000_000)
        );
        assert_eq!(
            ok("5000000000000s 1ns"),
            Duration::new(5_000_000_000_000, 1)
        );
        // `Duration::MAX`, written in several ways.
        let max = format!("{}s 999999999ns", u64::MAX);
        assert_eq!(ok(&max), Duration::MAX);
        assert_eq!(ok(&format!("{}.999999999s", u64::MAX)), Duration::MAX);
        assert_eq!(ok(&display(Duration::MAX)), Duration::MAX);
        assert_eq!(
            ok(&format!("{}ns", Duration::MAX.as_nanos())),
            Duration::MAX
        );
        assert_eq!(ok("213503982334601d 7h 15s 999999999ns"), Duration::MAX);
    }

    #[test]
    fn one_nanosecond_past_the_largest_is_too_large() {
        assert_eq!(
            parse(&format!("{}ns", Duration::MAX.as_nanos() + 1)),
            Err(Error::TooLarge)
        );
        assert_eq!(
            parse(&format!("{}s 1000000000ns", u64::MAX)),
            Err(Error::TooLarge)
        );
        assert_eq!(parse("213503982334602d"), Err(Error::TooLarge));
        // Parts that each fit in `u128` nanoseconds but whose sum does not.
        let huge = format!("{}ns", u128::MAX);
        assert_eq!(parse(&format!("{huge} {huge}")), Err(Error::TooLarge));
        assert_eq!(parse(&format!("{}d", u128::MAX)), Err(Error::TooLarge));
        assert_eq!(parse(&format!("{}0ns", u128::MAX)), Err(Error::TooLarge));
        assert!(
            Error::TooLarge
                .to_string()
                .contains("at most 18446744073709551615.999999999s")
        );
    }

    #[test]
    fn zeros_that_change_nothing() {
        let zeros = "0".repeat(100);
        assert_eq!(ok(&format!("{zeros}5s")), Duration::from_secs(5));
        assert_eq!(ok(&format!("1.5{zeros}s")), Duration::from_millis(1_500));
        assert_eq!(ok(&format!("{zeros}.{zeros}s")), Duration::ZERO);
        assert_eq!(parse(&format!("1.{zeros}1s")), Err(Error::TooPrecise));
    }

    #[test]
    fn display_round_trips() {
        for text in ["0s", "500ms", "10s", "1m 30s", "2d 3h", "1s 1ms 1us 1ns"] {
            assert_eq!(display(ok(text)), text);
        }
    }

    #[test]
    fn errors_say_what_to_write() {
        assert_eq!(
            Error::MissingUnit("10".into()).to_string(),
            "`10` has no unit (write `10s` or `10ms`)"
        );
    }
}
