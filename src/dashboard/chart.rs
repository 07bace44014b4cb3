//! The chart of the domain page: messages per day by DMARC result and disposition
//! (RFC 9990 §3.1.1.9), a stacked bar per day, as inline SVG (no script, no external file).
//! Each bar segment has a `<title>`, which browsers show as a tooltip.

use maud::{Markup, html};
use report_store::DayResults;

use crate::reports::period::format_day;

const WIDTH: u64 = 960;
const HEIGHT: u64 = 280;
const LEFT: u64 = 64;
const RIGHT: u64 = 12;
const TOP: u64 = 12;
const BOTTOM: u64 = 44;

/// One result category of the chart: name, colour, and its count in a day.
type Series = (&'static str, &'static str, fn(&DayResults) -> u64);

/// The result categories, bottom to top.
const SERIES: [Series; 4] = [
    ("DMARC pass", "#2e7d32", |d| d.pass),
    ("fail, delivered (none)", "#f9a825", |d| d.fail_none),
    ("fail, quarantined", "#ef6c00", |d| d.fail_quarantine),
    ("fail, rejected", "#c62828", |d| d.fail_reject),
];

/// The smallest "round" number (1, 2 or 5 times a power of ten) at least `n`.
fn round_up(n: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= n {
                return v;
            }
        }
        if step > u64::MAX / 10 {
            return u64::MAX;
        }
        step *= 10;
    }
}

/// `n` with thousands separators: `12 345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// The non-empty segments of one day's bar: name, colour, value, bottom and top.
fn segments(d: &DayResults) -> Vec<(&'static str, &'static str, u64, u64, u64)> {
    let mut base = 0u64;
    let mut out = Vec::new();
    for (name, colour, value) in SERIES {
        let v = value(d);
        if v > 0 {
            let top = base.saturating_add(v);
            out.push((name, colour, v, base, top));
            base = top;
        }
    }
    out
}

/// The stacked bar chart of `days`.
pub fn results_chart(days: &[DayResults]) -> Markup {
    let max = round_up(days.iter().map(DayResults::total).max().unwrap_or(0).max(1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = days.len().max(1) as u64;
    let slot = plot_w as f64 / n as f64;
    let bar = (slot * 0.8).max(1.0);
    let label_every = n.div_ceil(12).max(1) as usize;
    let y = |v: u64| TOP as f64 + plot_h as f64 * (1.0 - v as f64 / max as f64);
    let empty = days.iter().all(|d| d.total() == 0);
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (WIDTH) " " (HEIGHT)}
            role="img" aria-label="Messages per day by DMARC result" {
            title { "Messages per day by DMARC result" }
            // grid and y labels
            @for i in 0..=4u64 {
                @let v = max / 4 * i;
                line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(format!("{:.1}", y(v))) y2=(format!("{:.1}", y(v)))
                    stroke="#ddd" stroke-width="1" {}
                text x=(LEFT - 6) y=(format!("{:.1}", y(v) + 4.0)) text-anchor="end" font-size="12"
                    fill="#555" { (thousands(v)) }
            }
            @for (i, d) in days.iter().enumerate() {
                @let x = LEFT as f64 + slot * i as f64 + (slot - bar) / 2.0;
                g {
                    @for (name, colour, v, base, top) in segments(d) {
                        rect class="bar" x=(format!("{x:.1}")) y=(format!("{:.1}", y(top)))
                            width=(format!("{bar:.1}"))
                            height=(format!("{:.1}", (y(base) - y(top)).max(0.5)))
                            fill=(colour) {
                            title { (format_day(d.day)) ": " (thousands(v)) " " (name) }
                        }
                    }
                }
                @if i % label_every == 0 {
                    text x=(format!("{:.1}", x + bar / 2.0)) y=(HEIGHT - BOTTOM + 16)
                        text-anchor="middle" font-size="12" fill="#555" {
                        (format_day(d.day).get(5..).unwrap_or_default())
                    }
                }
            }
            line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(HEIGHT - BOTTOM) y2=(HEIGHT - BOTTOM)
                stroke="#888" stroke-width="1" {}
            @if empty {
                text x=(LEFT + plot_w / 2) y=(TOP + plot_h / 2) text-anchor="middle"
                    font-size="16" fill="#888" { "no reports in this period" }
            }
            // legend
            @for (i, (name, colour, _)) in SERIES.iter().enumerate() {
                @let lx = LEFT + i as u64 * 200;
                rect x=(lx) y=(HEIGHT - 18) width="12" height="12" fill=(colour) {}
                text x=(lx + 18) y=(HEIGHT - 8) font-size="12" fill="#333" { (name) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_scale() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 49, 501].map(round_up),
            [1, 1, 5, 10, 10, 20, 50, 1000]
        );
        assert_eq!(thousands(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(thousands(999), "999");
        let days = [
            DayResults {
                day: 86_400,
                pass: 90,
                fail_none: 5,
                fail_quarantine: 0,
                fail_reject: 5,
            },
            DayResults {
                day: 2 * 86_400,
                ..DayResults::default()
            },
        ];
        let svg = results_chart(&days).into_string();
        assert_eq!(svg.matches("class=\"bar\"").count(), 3, "{svg}");
        assert!(svg.contains("1970-01-02: 90 DMARC pass"));
        assert!(!svg.contains("no reports"));
        let empty = results_chart(&days[1..]).into_string();
        assert!(empty.contains("no reports in this period"));
        assert_eq!(empty.matches("class=\"bar\"").count(), 0);
    }
}
