//! Durations as humantime writes them: `"500ms"`, `"10s"`, `"1m 30s"`, `"1.5h"`, `"1500msec"`.
//!
//! The attribute's literals and the `GRACEFUL_*` variables both go through [`parse`], so a
//! duration the one accepts the other accepts too.

use std::fmt;
use std::time::Duration;

/// Reads a duration: humantime's grammar, with the spaces around it ignored.
///
/// ```
/// use std::time::Duration;
/// use graceful_rules::duration::parse;
///
/// assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse(" 250ms "), Ok(Duration::from_millis(250)));
/// assert!(parse("10").unwrap_err().to_string().contains("time unit needed"));
/// ```
pub fn parse(text: &str) -> Result<Duration, Error> {
    let text = text.trim();
    // humantime adds the parts up with `Duration::new`, which panics when the nanoseconds
    // carry into seconds that are already at `u64::MAX` ("18446744073709551615s 1000000000ns"):
    // read each part with humantime and add them up here, where that is an overflow error.
    let mut total = Duration::ZERO;
    for (start, part) in parts(text) {
        // humantime reads a text of just "0" as zero, but a last part of "0" ("1s 0") as a
        // number without its unit.
        if part == "0" && start > 0 {
            let end = start + 1;
            return Err(Error(humantime::DurationError::UnknownUnit {
                start: end,
                end,
                unit: String::new(),
                value: 0,
            }));
        }
        let duration =
            humantime::parse_duration(part).map_err(|error| Error(shift(error, start)))?;
        total = total
            .checked_add(duration)
            .ok_or(Error(humantime::DurationError::NumberOverflow))?;
    }
    if text.is_empty() {
        return humantime::parse_duration(text).map_err(Error);
    }
    Ok(total)
}

/// The parts of a duration, each a number and its unit ("1m", "30 s"), with where each starts:
/// a part ends where its unit does, and the next starts after the one space humantime takes
/// as the end of the unit (so that humantime puts an error in it where it would in the whole
/// text: "1m  x" is "expected number at 3").
/// After a unit, humantime takes only a space or the next number: at any other character the
/// rest of the text is the last part, so that humantime reports the first error in it, where
/// it would in the whole text.
fn parts(text: &str) -> Vec<(usize, &str)> {
    let mut start = 0;
    let mut in_unit = false;
    let mut parts = Vec::new();
    for (at, c) in text.char_indices() {
        let letter = c.is_alphabetic();
        if in_unit && !letter {
            if !(c.is_whitespace() || c.is_ascii_digit()) {
                break;
            }
            parts.push((start, &text[start..at]));
            start = if c.is_whitespace() {
                at + c.len_utf8()
            } else {
                at
            };
        }
        in_unit = letter;
    }
    if start < text.len() {
        parts.push((start, &text[start..]));
    }
    parts
}

/// `error` as found in a part that starts at `start` of the whole text.
fn shift(error: humantime::DurationError, start: usize) -> humantime::DurationError {
    use humantime::DurationError as E;
    match error {
        E::InvalidCharacter(at) => E::InvalidCharacter(start + at),
        E::NumberExpected(at) => E::NumberExpected(start + at),
        E::UnknownUnit {
            start: from,
            end,
            unit,
            value,
        } => E::UnknownUnit {
            start: start + from,
            end: start + end,
            unit,
            value,
        },
        other => other,
    }
}

/// Writes a duration the way [`parse`] reads it: `"1m 30s"`.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(graceful_rules::duration::display(Duration::from_secs(90)), "1m 30s");
/// ```
pub fn display(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Why a text is not a duration, in humantime's words.
///
/// ```
/// let error = graceful_rules::duration::parse("ten").unwrap_err();
/// assert_eq!(error.to_string(), "expected number at 0");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Error(pub(crate) humantime::DurationError);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // humantime's words for it do not say where the limit is.
            humantime::DurationError::NumberOverflow => f.write_str(
                "number is too large, or more precise than a nanosecond: a `Duration` holds at \
                 most 18446744073709551615.999999999s (about 584 billion years)",
            ),
            ref error => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_humantime_has() {
        for (text, expected) in [
            ("1500msec", Duration::from_millis(1500)),
            ("2 secs", Duration::from_secs(2)),
            ("1w", Duration::from_secs(7 * 86_400)),
            ("1.5h", Duration::from_secs(5_400)),
            ("1m 30s", Duration::from_secs(90)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn the_longest_duration_fits() {
        assert_eq!(
            parse("18446744073709551615s 999999999ns"),
            Ok(Duration::MAX)
        );
        assert!(parse("18446744073709551616s").is_err());
    }

    /// humantime alone panics on this one ("overflow in Duration::new").
    #[test]
    fn nanoseconds_that_carry_past_the_longest_duration_are_too_large() {
        let error = parse("18446744073709551615s 1000000000ns").unwrap_err();
        assert!(error.to_string().contains("number is too large"), "{error}");
        assert!(parse("18446744073709551615s 999999999ns 1ns").is_err());
        assert_eq!(parse("1s 1000000000ns"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn errors_are_where_humantime_puts_them_in_the_whole_text() {
        for text in [
            "1m 30",
            "1m 30x",
            "1m x",
            "1m30s.",
            "1m .5s",
            "1m+2s",
            "",
            "  ",
            "1m 2  fortnights",
            "5",
            "-1s",
            "1.s",
            "1m 1.5ns",
            // Found by `fuzz::parse_reads_as_humantime_does`: a letter humantime does not
            // take as a unit, then a character no unit is followed by, was reported at that
            // character rather than at the letter; so was an unknown unit before a bad
            // character further on.
            "\u{12C8}:",
            "1x 2s.",
            "1\u{e9}s 2m!",
            // Found by `fuzz::parse_reads_as_humantime_does`: a last part of "0" was read as
            // zero, as humantime reads a whole text of "0", so "1s 0" was one second.
            "1s 0",
            "0nanos0",
            "1m 30s  0",
            // Found by `fuzz::parse_reads_as_humantime_does`: after a unit and more than one
            // space, humantime puts "expected number" at the second space.
            "0nanos  nanos",
            "1m \t x",
        ] {
            let whole = humantime::parse_duration(text.trim()).map(|_| ());
            let ours = parse(text).map(|_| ()).map_err(|error| error.0);
            assert_eq!(ours, whole, "{text:?}");
        }
        for text in ["1m30s", "1m 30s", " 2h 1.5m 10ms ", "10 s", "1w2d"] {
            assert_eq!(
                parse(text).ok(),
                humantime::parse_duration(text.trim()).ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for duration in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_secs(90),
            Duration::MAX,
        ] {
            assert_eq!(parse(&display(duration)), Ok(duration));
        }
    }
}
