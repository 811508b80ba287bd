//! `latency.svg`: signal-to-exit against N, one line per program, written by hand.
//!
//! N is on a categorical axis (0, 10, 1000, 10 000 equally spaced), latency on a log axis
//! (the floor is a fraction of a millisecond, 10 000 hooks take tens of them). Each point is
//! a median, with a whisker up to the p90.

use std::fmt::Write as _;

use crate::lifecycle::Lifecycle;
use crate::stats::Summary;
use crate::variants::{NS, Program};

/// One line of the plot.
pub struct Series {
    pub label: &'static str,
    pub color: &'static str,
    /// Median and p90 at each N of [`NS`], in ms.
    pub points: Vec<(usize, Summary)>,
    /// Drawn as a dashed horizontal line (the floor does not depend on N).
    pub flat: bool,
}

/// The four programs' series from the lifecycle measurements, then the two with plain `fn`
/// hooks at those of their N that are on the axis.
pub fn series(life: &Lifecycle) -> Vec<Series> {
    Program::COMPARED
        .iter()
        .chain(&[Program::ByHandBlocking, Program::GracefulBlocking])
        .map(|&program| {
            let (color, flat) = match program {
                Program::Floor => ("#7f7f7f", true),
                Program::ByHand => ("#1f77b4", false),
                Program::Tgs => ("#ff7f0e", false),
                Program::ByHandBlocking => ("#9ecae1", false),
                Program::GracefulBlocking => ("#98df8a", false),
                _ => ("#2ca02c", false),
            };
            let points = if flat {
                life.exit(program, None)
                    .map(|s| NS.iter().map(|&n| (n, s)).collect())
                    .unwrap_or_default()
            } else {
                NS.iter()
                    .filter(|n| program.ns().contains(n))
                    .filter_map(|&n| Some((n, life.exit(program, Some(n))?)))
                    .collect()
            };
            Series {
                label: program.label(),
                color,
                points,
                flat,
            }
        })
        .collect()
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 210.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 60.0;

/// The SVG document.
pub fn latency_svg(series: &[Series], subtitle: &str) -> String {
    let values = series
        .iter()
        .flat_map(|s| s.points.iter())
        .flat_map(|(_, s)| [s.median, s.p90])
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo, hi)
    } else {
        (0.1, 10.0)
    };
    let lo_decade = lo.log10().floor() as i32;
    let hi_decade = (hi.log10().ceil() as i32).max(lo_decade + 1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / NS.len() as f64;
    let y = |v: f64| {
        let t = (v.log10() - f64::from(lo_decade)) / f64::from(hi_decade - lo_decade);
        TOP + plot_h * (1.0 - t)
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">Signal-to-exit latency against N</text>"#
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="42" fill="#555555">{} (median, whisker to p90)</text>"##,
        escape(subtitle)
    );

    // Horizontal grid: decades labelled, 2 and 5 in between.
    for decade in lo_decade..=hi_decade {
        for (k, major) in [(1.0, true), (2.0, false), (5.0, false)] {
            let v = k * 10f64.powi(decade);
            if decade == hi_decade && k > 1.0 {
                continue;
            }
            let yy = y(v);
            let (stroke, dash) = if major {
                ("#bbbbbb", "")
            } else {
                ("#e5e5e5", r#" stroke-dasharray="2,3""#)
            };
            let _ = writeln!(
                svg,
                r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{stroke}"{dash}/>"#,
                LEFT + plot_w
            );
            if major {
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} ms</text>"#,
                    LEFT - 8.0,
                    yy + 4.0,
                    number(v)
                );
            }
        }
    }
    // Axes and N labels.
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333333"/>"##,
        TOP + plot_h
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333333"/>"##,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    for (i, n) in NS.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
            x(i),
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">N: hooks (subsystems), not to scale</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 16.0
    );

    // The series.
    for (k, s) in series.iter().enumerate() {
        let index = |n: usize| NS.iter().position(|&m| m == n).unwrap_or(0);
        if s.flat {
            if let Some((_, summary)) = s.points.first() {
                let yy = y(summary.median);
                let _ = writeln!(
                    svg,
                    r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{}" stroke-width="2" stroke-dasharray="6,4"/>"#,
                    LEFT + plot_w,
                    s.color
                );
            }
        } else {
            let path: Vec<String> = s
                .points
                .iter()
                .map(|(n, summary)| format!("{:.1},{:.1}", x(index(*n)), y(summary.median)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
                path.join(" "),
                s.color
            );
            for (n, summary) in &s.points {
                // Whiskers side by side, so that close series stay readable.
                let xx = x(index(*n)) + (k as f64 - (series.len() as f64 - 1.0) / 2.0) * 4.0;
                let (ym, yp) = (y(summary.median), y(summary.p90));
                let _ = writeln!(
                    svg,
                    r#"<line x1="{xx:.1}" y1="{ym:.1}" x2="{xx:.1}" y2="{yp:.1}" stroke="{}" stroke-width="1.5"/>"#,
                    s.color
                );
                let _ = writeln!(
                    svg,
                    r#"<line x1="{:.1}" y1="{yp:.1}" x2="{:.1}" y2="{yp:.1}" stroke="{}" stroke-width="1.5"/>"#,
                    xx - 3.0,
                    xx + 3.0,
                    s.color
                );
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{ym:.1}" r="3.5" fill="{}"><title>{}, N = {n}: median {} ms, p90 {} ms</title></circle>"#,
                    x(index(*n)),
                    s.color,
                    escape(s.label),
                    number(summary.median),
                    number(summary.p90)
                );
            }
        }
        // Legend.
        let ly = TOP + 10.0 + 22.0 * k as f64;
        let lx = LEFT + plot_w + 20.0;
        let dash = if s.flat {
            r#" stroke-dasharray="6,4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/>"#,
            lx + 24.0,
            s.color
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 30.0,
            ly + 4.0,
            escape(s.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `0.01`, `0.5`, `2`, `100`: without trailing zeros.
fn number(v: f64) -> String {
    let text = if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(median: f64) -> Summary {
        Summary {
            median,
            p90: median * 1.2,
            count: 30,
        }
    }

    #[test]
    fn draws_every_series_and_decade() {
        let series = vec![
            Series {
                label: "floor",
                color: "#7f7f7f",
                points: NS.iter().map(|&n| (n, summary(0.2))).collect(),
                flat: true,
            },
            Series {
                label: "graceful",
                color: "#2ca02c",
                points: NS
                    .iter()
                    .map(|&n| (n, summary(1.0 + n as f64 / 1000.0)))
                    .collect(),
                flat: false,
            },
        ];
        let svg = latency_svg(&series, "2 cores <test>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), NS.len());
        assert!(svg.contains("0.1 ms") && svg.contains("10 ms"));
        assert!(svg.contains("2 cores &lt;test&gt;"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(0.012), "0.012");
    }
}
