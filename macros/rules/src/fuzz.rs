//! Property tests: durations, signal names and the rules between settings, read from
//! arbitrary input, never panic, and agree with a model where there is one.
//!
//! 256 cases per property in `cargo test`; `PROPTEST_CASES=100000` runs more.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use proptest::prelude::*;

use crate::duration::{self, Error};
use crate::settings::{self, Named};
use crate::signal::{self, StopSignal};

/// humantime's units, each with what one of it is: seconds, or nanoseconds for the units
/// below a second (humantime multiplies in `u64` in that unit, so that is where it overflows).
const UNITS: &[(&str, Unit)] = &[
    ("nanos", Unit::Nanos(1)),
    ("nsec", Unit::Nanos(1)),
    ("ns", Unit::Nanos(1)),
    ("usec", Unit::Nanos(1_000)),
    ("us", Unit::Nanos(1_000)),
    ("\u{b5}s", Unit::Nanos(1_000)),
    ("millis", Unit::Nanos(1_000_000)),
    ("msec", Unit::Nanos(1_000_000)),
    ("ms", Unit::Nanos(1_000_000)),
    ("seconds", Unit::Secs(1)),
    ("second", Unit::Secs(1)),
    ("secs", Unit::Secs(1)),
    ("sec", Unit::Secs(1)),
    ("s", Unit::Secs(1)),
    ("minutes", Unit::Secs(60)),
    ("min", Unit::Secs(60)),
    ("m", Unit::Secs(60)),
    ("hours", Unit::Secs(3_600)),
    ("hr", Unit::Secs(3_600)),
    ("h", Unit::Secs(3_600)),
    ("days", Unit::Secs(86_400)),
    ("d", Unit::Secs(86_400)),
    ("weeks", Unit::Secs(604_800)),
    ("w", Unit::Secs(604_800)),
    ("months", Unit::Secs(2_630_016)),
    ("M", Unit::Secs(2_630_016)),
    ("years", Unit::Secs(31_557_600)),
    ("y", Unit::Secs(31_557_600)),
];

#[derive(Clone, Copy, Debug)]
enum Unit {
    Secs(u64),
    Nanos(u64),
}

/// A number as written: any `u64`, or more digits than a `u64` holds.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..1_000).prop_map(|n| n.to_string()),
        4 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => "[1-9][0-9]{19,40}",
    ]
}

/// Whitespace between the parts, or none.
fn gap() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", " ", "  ", "\t", "\n", " \u{a0}", "\u{3000}"][..])
}

/// A duration written with whole numbers: its text, and what it is worth part by part (`None`
/// for a part whose number is too large for humantime's `u64` in its unit).
fn whole_duration() -> impl Strategy<Value = (String, Vec<Option<Duration>>)> {
    prop::collection::vec(
        (gap(), number(), gap(), prop::sample::select(UNITS), gap()),
        1..5,
    )
    .prop_map(|parts| {
        let mut text = String::new();
        let mut values = Vec::new();
        for (before, number, between, (unit, worth), after) in parts {
            // A space between the number and its unit is fine, not between two parts of
            // one unit; a part must be separated from the next number by its unit alone.
            text.push_str(before);
            text.push_str(&number);
            text.push_str(between);
            text.push_str(unit);
            text.push_str(after);
            let value = number.parse::<u64>().ok().and_then(|n| match worth {
                Unit::Secs(secs) => n.checked_mul(secs).map(Duration::from_secs),
                Unit::Nanos(nanos) => n.checked_mul(nanos).map(Duration::from_nanos),
            });
            values.push(value);
        }
        (text, values)
    })
}

/// What the model says `parse` gives for a whole duration: the sum, or too large.
fn model(values: &[Option<Duration>]) -> Option<Duration> {
    values
        .iter()
        .try_fold(Duration::ZERO, |total, value| total.checked_add((*value)?))
}

/// Text that looks like a duration more often than arbitrary text does: digits, units, dots,
/// signs, spaces and some non-ASCII letters and digits.
fn duration_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        number(),
        prop::sample::select(UNITS).prop_map(|(unit, _)| unit.to_owned()),
        prop::sample::select(
            &[
                ".",
                "..",
                "-",
                "+",
                " ",
                "  ",
                "\t",
                "0",
                "1.",
                ".5",
                "e3",
                "_",
                ",",
                "\u{3bc}s",
                "\u{b5}",
                "\u{e9}",
                "\u{660}",
                "\u{ff11}",
                "x",
                "fortnight",
                "S",
                "H",
                "\u{0}",
            ][..]
        )
        .prop_map(str::to_owned),
        "[0-9]{1,3}\\.[0-9]{1,25}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// humantime's own reading of `text`, unless humantime panics on it.
fn humantime(text: &str) -> Option<Result<Duration, humantime::DurationError>> {
    catch_unwind(AssertUnwindSafe(|| humantime::parse_duration(text.trim()))).ok()
}

/// A signal name as a user might misspell it: other case, without `SIG`, `-` for `_`, spaces
/// around it.
fn misspelled_signal() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&StopSignal::ALL[..]),
        prop::collection::vec(any::<bool>(), 16),
        any::<bool>(),
        any::<bool>(),
        gap(),
    )
        .prop_map(|(signal, lower, strip, dash, space)| {
            let name = signal.name();
            let name = if strip {
                name.strip_prefix("SIG").unwrap_or(name)
            } else {
                name
            };
            let mut name: String = name
                .chars()
                .zip(lower.iter().cycle())
                .map(|(c, &lower)| if lower { c.to_ascii_lowercase() } else { c })
                .collect();
            if dash {
                name = name.replace('_', "-");
            }
            format!("{space}{name}{space}")
        })
}

proptest! {
    /// Any text: `parse` returns, and its error says something.
    #[test]
    fn any_text_is_a_duration_or_an_error(text in prop_oneof![any::<String>(), duration_like()]) {
        match duration::parse(&text) {
            Ok(value) => prop_assert_eq!(duration::parse(&duration::display(value)), Ok(value)),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// Whole numbers in humantime's units add up as the model says; a sum or a number too
    /// large for a `Duration` is the overflow error, never a wrap, a saturation or a panic.
    #[test]
    fn whole_durations_add_up_or_are_too_large((text, values) in whole_duration()) {
        match model(&values) {
            Some(expected) => prop_assert_eq!(duration::parse(&text), Ok(expected), "{:?}", text),
            None => {
                let error = duration::parse(&text).expect_err("too large");
                prop_assert_eq!(&error, &Error(humantime::DurationError::NumberOverflow), "{:?}", text);
                prop_assert!(error.to_string().contains("number is too large"));
            }
        }
    }

    /// Where humantime itself neither panics nor overflows, `parse` reads as it does: the same
    /// value, or the same error at the same place.
    #[test]
    fn parse_reads_as_humantime_does(text in prop_oneof![any::<String>(), duration_like(), whole_duration().prop_map(|(text, _)| text)]) {
        let ours = duration::parse(&text).map_err(|error| error.0);
        match humantime(&text) {
            Some(Err(humantime::DurationError::NumberOverflow)) | None => {}
            Some(theirs) => prop_assert_eq!(ours, theirs, "{:?}", text),
        }
    }

    /// Any `Duration`, written by `display`, reads back as itself.
    #[test]
    fn display_round_trips(secs in prop_oneof![any::<u64>(), 0u64..100_000, Just(u64::MAX)], nanos in prop_oneof![0u32..1_000_000_000, Just(0u32), Just(999_999_999u32)]) {
        let value = Duration::new(secs, nanos);
        prop_assert_eq!(duration::parse(&duration::display(value)), Ok(value));
    }

    /// Any text: a signal is accepted only under its exact name, for `signals` and for
    /// `upgrade`; a refusal says something.
    #[test]
    fn signals_are_accepted_by_their_exact_name_only(text in prop_oneof![any::<String>(), "[A-Za-z_ -]{0,14}", misspelled_signal()]) {
        for result in [signal::lookup(&text), signal::lookup_upgrade(&text)] {
            match result {
                Ok(signal) => prop_assert_eq!(signal.name(), text.as_str()),
                Err(message) => prop_assert!(message.contains('`'), "{}", message),
            }
        }
    }

    /// A signal name in other case, without `SIG` or with `-` is refused with the right name.
    #[test]
    fn misspelled_signals_get_their_name(text in misspelled_signal()) {
        if let Err(message) = signal::lookup(&text) {
            let meant = StopSignal::ALL
                .iter()
                .find(|signal| message.contains(&format!("did you mean `{}`?", signal.name())));
            prop_assert!(meant.is_some(), "{:?}: {}", text, message);
        }
    }

    /// The rules between durations hold for any two, up to `Duration::MAX`.
    #[test]
    fn duration_rules_hold_for_any_two(a in any::<(u64, u32)>(), b in any::<(u64, u32)>(), equal in any::<bool>()) {
        let a = Duration::new(a.0, a.1 % 1_000_000_000);
        let b = if equal { a } else { Duration::new(b.0, b.1 % 1_000_000_000) };
        let drain = settings::drain_timeout(Named::new("`drain_timeout`", a), Named::new("`timeout`", b));
        prop_assert_eq!(drain.is_ok(), a <= b);
        let delay = settings::drain_delay(Named::new("`drain_delay`", a), Named::new("`timeout`", b));
        prop_assert_eq!(delay.is_ok(), a < b);
        for message in [drain.err(), delay.err()].into_iter().flatten() {
            prop_assert!(message.contains(&duration::display(a)), "{}", message);
        }
    }
}
