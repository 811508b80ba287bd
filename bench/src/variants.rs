//! The programs compared, and the binaries (in `src/bin`) that are their variants.

use std::fmt;
use std::path::{Path, PathBuf};

/// The numbers of hooks (or subsystems) measured.
pub const NS: [usize; 4] = [0, 10, 1000, 10_000];

/// The numbers of plain `fn` hooks measured.
pub const BLOCKING_NS: [usize; 3] = [10, 100, 1000];

/// A way of stopping a tokio service, or a baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Program {
    /// `sigwait` and exit: the physical floor.
    Floor,
    /// A bare `#[tokio::main]`: the start-up baseline (no signal handling: only its start-up
    /// and memory are measured).
    TokioMain,
    /// `tokio::signal`, a `CancellationToken`, hooks awaited in turn.
    ByHand,
    /// `tokio-graceful-shutdown`.
    Tgs,
    /// `graceful`.
    Graceful,
    /// By hand, plain `fn` hooks called in turn.
    ByHandBlocking,
    /// `graceful`, plain `fn` hooks (`#[graceful::on_shutdown] fn`).
    GracefulBlocking,
}

impl Program {
    /// The four programs of the latency comparison, in table order.
    pub const COMPARED: [Program; 4] = [
        Program::Floor,
        Program::ByHand,
        Program::Tgs,
        Program::Graceful,
    ];

    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Program::Floor => "floor (sigwait)",
            Program::TokioMain => "`#[tokio::main]`",
            Program::ByHand => "by hand",
            Program::Tgs => "tokio-graceful-shutdown",
            Program::Graceful => "graceful",
            Program::ByHandBlocking => "by hand, `fn` hooks",
            Program::GracefulBlocking => "graceful, `fn` hooks",
        }
    }

    /// The prefix of its binaries' names.
    fn stem(self) -> &'static str {
        match self {
            Program::Floor => "floor",
            Program::TokioMain => "tokio_main",
            Program::ByHand => "by_hand",
            Program::Tgs => "tgs",
            Program::Graceful => "graceful",
            Program::ByHandBlocking => "by_hand_blocking",
            Program::GracefulBlocking => "graceful_blocking",
        }
    }

    /// Whether the program does the same thing whatever N (one binary).
    pub fn has_n(self) -> bool {
        !self.ns().is_empty()
    }

    /// The numbers of hooks its variants have (none if it has one binary).
    pub fn ns(self) -> &'static [usize] {
        match self {
            Program::Floor | Program::TokioMain => &[],
            Program::ByHand | Program::Tgs | Program::Graceful => &NS,
            Program::ByHandBlocking | Program::GracefulBlocking => &BLOCKING_NS,
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One binary: a program, with N hooks when it has hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Variant {
    pub program: Program,
    pub n: Option<usize>,
}

impl Variant {
    /// Every variant of the lifecycle measurements: the floor, the `#[tokio::main]`
    /// baseline, and the others at each of their N.
    pub fn lifecycle() -> Vec<Variant> {
        let mut all = vec![
            Variant {
                program: Program::Floor,
                n: None,
            },
            Variant {
                program: Program::TokioMain,
                n: None,
            },
        ];
        for program in [
            Program::ByHand,
            Program::Tgs,
            Program::Graceful,
            Program::ByHandBlocking,
            Program::GracefulBlocking,
        ] {
            for &n in program.ns() {
                all.push(Variant {
                    program,
                    n: Some(n),
                });
            }
        }
        all
    }

    /// The binary's name in `src/bin`.
    pub fn binary(self) -> String {
        match self.n {
            Some(n) => format!("{}_{n}", self.program.stem()),
            None => self.program.stem().to_owned(),
        }
    }

    /// The binary's path in the release directory `bin_dir`.
    pub fn path(self, bin_dir: &Path) -> PathBuf {
        bin_dir.join(self.binary())
    }
}

/// The 100 × 100 ms one-phase variants: the binary of `program`'s.
pub fn phase_binary(program: Program) -> Option<&'static str> {
    match program {
        Program::ByHand => Some("by_hand_phase"),
        Program::Tgs => Some("tgs_phase"),
        Program::Graceful => Some("graceful_phase"),
        _ => None,
    }
}
