//! The periods `authmilter report show` and the dashboard summarize: whole UTC days, given as
//! a length back from a last day (`7d`, `4w`, or the first day `YYYY-MM-DD`).

use report_store::Span;

const DAY: u64 = 86_400;
/// The longest period: a bit more than a year (also what `keep` usually allows).
pub const MAX_DAYS: u64 = 400;

/// `since` (`7d`, `4w`, `YYYY-MM-DD`, or a plain number of days) up to and including the day
/// `until` (`YYYY-MM-DD`; default: today, from `now`).
pub fn span(since: &str, until: Option<&str>, now: u64) -> anyhow::Result<Span> {
    let last = match until.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => parse_day(u)?,
        None => now - now % DAY,
    };
    let since = since.trim();
    let days = if since.contains('-') {
        let first = parse_day(since)?;
        if first > last {
            anyhow::bail!("the period starts ({since}) after its last day");
        }
        (last - first) / DAY + 1
    } else {
        days(since)?
    };
    if days > MAX_DAYS {
        anyhow::bail!("a period of {days} days: at most {MAX_DAYS}");
    }
    Ok(Span::last_days(last, days))
}

/// `7d`, `4w` or `30` as a number of days (at least 1).
pub fn days(text: &str) -> anyhow::Result<u64> {
    let bad = || anyhow::anyhow!("bad period {text:?}: expected e.g. 7d, 4w, 30 or YYYY-MM-DD");
    let t = text.trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, 'd')) => (t.get(..i).unwrap_or_default(), 1),
        Some((i, 'w')) => (t.get(..i).unwrap_or_default(), 7),
        _ => (t, 1),
    };
    let n: u64 = number.trim().parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok(n.saturating_mul(unit))
}

/// `YYYY-MM-DD` → the Unix time of 00:00:00 UTC that day.
pub fn parse_day(text: &str) -> anyhow::Result<u64> {
    let bad = || anyhow::anyhow!("bad date {text:?}: expected YYYY-MM-DD");
    let mut parts = text.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(bad()); // e.g. February 30
    }
    u64::try_from(days * 86_400).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `YYYY-MM-DD` of the UTC day of `t`.
pub fn format_day(t: u64) -> String {
    let (y, m, d) = civil_from_days(i64::try_from(t / 86_400).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` of `t`.
pub fn format_time(t: u64) -> String {
    let s = t % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(t),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        // 2026-11-02 12:00 UTC
        let now = 1_793_577_600 + 43_200;
        let s = span("7d", None, now).unwrap();
        assert_eq!(s.end, 1_793_577_600 + DAY);
        assert_eq!(s.days().count(), 7);
        assert_eq!(span("1w", None, now).unwrap(), s);
        assert_eq!(span("7", None, now).unwrap(), s);
        let s = span("2026-11-01", Some("2026-11-02"), now).unwrap();
        assert_eq!((s.begin, s.end), (1_793_491_200, 1_793_577_600 + DAY));
        let s = span("1d", Some("2012-05-17"), now).unwrap();
        assert_eq!(s.begin, 1_337_212_800);
        for bad in ["0d", "x", "-1d", "401d", "2026-11-03"] {
            assert!(span(bad, Some("2026-11-02"), now).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2026-11-02").unwrap(), 1_793_577_600);
        assert_eq!(format_day(1_793_577_600 + 5), "2026-11-02");
        assert_eq!(format_time(1_793_577_600 + 3661), "2026-11-02T01:01:01Z");
        for bad in ["2026-02-30", "2026-13-01", "26-1-1", "2026-01-01-01", "x"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}
