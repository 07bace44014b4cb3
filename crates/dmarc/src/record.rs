//! DMARC policy record parsing (RFC 9989 §4.7–§4.8, RFC 7489 §6.3–§6.4).

use std::collections::HashSet;
use std::fmt;

use crate::error::DmarcError;

/// A requested policy: `p`, `sp` or `np` (RFC 9989 §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// `none`: no preference expressed.
    None,
    /// `quarantine`: treat failing mail as suspicious.
    Quarantine,
    /// `reject`: reject failing mail.
    Reject,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        })
    }
}

/// Identifier alignment mode: `adkim` / `aspf` (RFC 9989 §4.7, §3.2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlignmentMode {
    /// `r`: same organizational domain.
    #[default]
    Relaxed,
    /// `s`: identical domains.
    Strict,
}

impl fmt::Display for AlignmentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlignmentMode::Relaxed => "r",
            AlignmentMode::Strict => "s",
        })
    }
}

/// The `psd` tag (RFC 9989 §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Psd {
    /// `y`: the domain is a public suffix domain.
    Yes,
    /// `n`: the domain is an organizational domain.
    No,
    /// `u` (default): unknown; use the tree walk.
    #[default]
    Unknown,
}

impl fmt::Display for Psd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Psd::Yes => "y",
            Psd::No => "n",
            Psd::Unknown => "u",
        })
    }
}

/// One failure reporting option of `fo` (RFC 9989 §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureOption {
    /// `0`: report when all mechanisms fail to produce an aligned pass.
    All,
    /// `1`: report when any mechanism fails to produce an aligned pass.
    Any,
    /// `d`: report DKIM signature failures.
    Dkim,
    /// `s`: report SPF failures.
    Spf,
}

impl fmt::Display for FailureOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureOption::All => "0",
            FailureOption::Any => "1",
            FailureOption::Dkim => "d",
            FailureOption::Spf => "s",
        })
    }
}

/// A reporting URI from `rua` / `ruf` (RFC 9989 §4.6, §4.8; RFC 7489 §6.2 size suffix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportUri {
    /// The URI without the size suffix, e.g. `mailto:dmarc@example.com`.
    pub uri: String,
    /// The scheme, lowercase (`mailto`, `https`, ...).
    pub scheme: String,
    /// The maximum report size in bytes from a `!NNN[kmgt]` suffix (obsolete in RFC 9989).
    pub max_size: Option<u64>,
}

impl ReportUri {
    /// The address of a `mailto:` URI (without `?headers`, percent-decoding not applied).
    pub fn mailto_address(&self) -> Option<&str> {
        if self.scheme != "mailto" {
            return None;
        }
        let rest = self.uri.get(7..)?;
        let addr = rest.split('?').next().unwrap_or(rest);
        (addr.contains('@') && !addr.is_empty()).then_some(addr)
    }
}

impl fmt::Display for ReportUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(n) = self.max_size {
            write!(f, "!{n}")?;
        }
        Ok(())
    }
}

/// A tag whose value was invalid and was discarded in favour of the default (RFC 9989 §4.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagProblem {
    /// The tag name, lowercase.
    pub tag: String,
    /// The offending value (lossy UTF-8).
    pub value: String,
    /// The tag appeared before: its first value stands (RFC 6376 §3.2, whose tag-list
    /// RFC 9989 §4.7 uses, calls such a list invalid; receivers differ).
    pub duplicate: bool,
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}={}", self.tag, self.value)
    }
}

/// A parsed DMARC policy record (RFC 9989 §4.7; RFC 7489 §6.3).
///
/// Parsing is mode-independent: every tag of both RFCs is read; the evaluation decides which
/// ones count. Invalid values are discarded (defaults apply) and listed in `problems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `p`; `None` when absent or invalid.
    pub policy: Option<Policy>,
    /// `sp`; `None` when absent or invalid.
    pub subdomain_policy: Option<Policy>,
    /// `np` (RFC 9989, RFC 9091); `None` when absent or invalid.
    pub nonexistent_policy: Option<Policy>,
    /// `psd` (RFC 9989).
    pub psd: Psd,
    /// `t=y` (RFC 9989 testing mode).
    pub testing: bool,
    /// `adkim`.
    pub adkim: AlignmentMode,
    /// `aspf`.
    pub aspf: AlignmentMode,
    /// `pct` (RFC 7489 only), 0–100, default 100.
    pub pct: u8,
    /// `rua`: valid aggregate report URIs.
    pub rua: Vec<ReportUri>,
    /// `ruf`: valid failure report URIs.
    pub ruf: Vec<ReportUri>,
    /// `fo`, default `0`.
    pub fo: Vec<FailureOption>,
    /// `rf` (RFC 7489 only), default `afrf`.
    pub rf: Vec<String>,
    /// `ri` (RFC 7489 only), seconds, default 86400.
    pub ri: u32,
    /// Whether `p`, `sp`, `np` were present at all (even if invalid).
    pub present: PresentTags,
    /// Invalid values that were discarded.
    pub problems: Vec<TagProblem>,
    /// The record text as published (lossy UTF-8), for reports.
    pub text: String,
}

/// Which policy tags appeared in a record (valid or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PresentTags {
    /// `p` appeared.
    pub p: bool,
    /// `sp` appeared.
    pub sp: bool,
    /// `np` appeared.
    pub np: bool,
}

impl Record {
    /// The problem recorded for `tag`, if its value was invalid.
    pub fn problem(&self, tag: &str) -> Option<&TagProblem> {
        self.problems.iter().find(|p| p.tag == tag)
    }

    /// `p` is valid and `sp`/`np` are absent or valid: the record's policies can be used
    /// as published (RFC 9989 §4.10.1).
    pub fn has_valid_policy(&self, use_np: bool) -> bool {
        self.policy.is_some()
            && !(self.present.sp && self.subdomain_policy.is_none())
            && !(use_np && self.present.np && self.nonexistent_policy.is_none())
    }
}

/// Parses one TXT record (character-strings already joined, RFC 9989 §4.5).
///
/// Errors when the text is not a DMARC record at all: empty, or not starting with
/// `v=DMARC1` (RFC 9989 §4.7 `v`). Invalid values of other tags do not fail the parse.
pub fn parse_record(txt: &[u8]) -> Result<Record, DmarcError> {
    let text = String::from_utf8_lossy(txt).into_owned();
    if txt.iter().all(|b| matches!(b, b' ' | b'\t')) {
        return Err(DmarcError::EmptyRecord);
    }
    let mut parts = txt.split(|&b| b == b';');
    let first = parts.next().unwrap_or_default();
    let (name, value) = split_tag(first).ok_or_else(|| DmarcError::NotDmarc(text.clone()))?;
    if !name.eq_ignore_ascii_case(b"v") || value != b"DMARC1" {
        return Err(DmarcError::NotDmarc(text));
    }
    let mut rec = Record {
        policy: None,
        subdomain_policy: None,
        nonexistent_policy: None,
        psd: Psd::Unknown,
        testing: false,
        adkim: AlignmentMode::Relaxed,
        aspf: AlignmentMode::Relaxed,
        pct: 100,
        rua: Vec::new(),
        ruf: Vec::new(),
        fo: vec![FailureOption::All],
        rf: vec!["afrf".to_string()],
        ri: 86_400,
        present: PresentTags::default(),
        problems: Vec::new(),
        text,
    };
    // the names seen: scanned while few, a set past 32 (a crafted record may hold thousands
    // of unknown tags, which are ignored: a scan per tag would be quadratic)
    // `v` was the first tag: another is a repeat too
    let mut seen: Vec<Vec<u8>> = vec![b"v".to_vec()];
    let mut many: HashSet<Vec<u8>> = HashSet::new();
    for part in parts {
        if part.iter().all(|b| matches!(b, b' ' | b'\t')) {
            continue;
        }
        let Some((name, value)) = split_tag(part) else {
            rec.problems.push(TagProblem {
                tag: String::new(),
                value: String::from_utf8_lossy(trim(part)).into_owned(),
                duplicate: false,
            });
            continue;
        };
        let lname = name.to_ascii_lowercase();
        let duplicate = if many.is_empty() {
            seen.contains(&lname)
        } else {
            many.contains(&lname)
        };
        if duplicate {
            // duplicate tag: the first one stands
            rec.problems.push(TagProblem {
                duplicate: true,
                ..problem(&lname, value)
            });
            continue;
        }
        apply_tag(&mut rec, &lname, value);
        if many.is_empty() && seen.len() < 32 {
            seen.push(lname);
        } else {
            many.extend(seen.drain(..));
            many.insert(lname);
        }
    }
    Ok(rec)
}

fn apply_tag(rec: &mut Record, name: &[u8], value: &[u8]) {
    let ok = match name {
        b"p" => {
            rec.present.p = true;
            rec.policy = parse_policy(value);
            rec.policy.is_some()
        }
        b"sp" => {
            rec.present.sp = true;
            rec.subdomain_policy = parse_policy(value);
            rec.subdomain_policy.is_some()
        }
        b"np" => {
            rec.present.np = true;
            rec.nonexistent_policy = parse_policy(value);
            rec.nonexistent_policy.is_some()
        }
        b"psd" => match lower(value).as_slice() {
            b"y" => set(&mut rec.psd, Psd::Yes),
            b"n" => set(&mut rec.psd, Psd::No),
            b"u" => set(&mut rec.psd, Psd::Unknown),
            _ => false,
        },
        b"t" => match lower(value).as_slice() {
            b"y" => set(&mut rec.testing, true),
            b"n" => set(&mut rec.testing, false),
            _ => false,
        },
        b"adkim" => parse_mode(value).is_some_and(|m| set(&mut rec.adkim, m)),
        b"aspf" => parse_mode(value).is_some_and(|m| set(&mut rec.aspf, m)),
        b"pct" => parse_pct(value).is_some_and(|p| set(&mut rec.pct, p)),
        b"ri" => std::str::from_utf8(value)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(|v| set(&mut rec.ri, v)),
        b"fo" => parse_fo(value).is_some_and(|v| set(&mut rec.fo, v)),
        b"rf" => parse_rf(value).is_some_and(|v| set(&mut rec.rf, v)),
        b"rua" => parse_uri_list(value, &mut rec.rua),
        b"ruf" => parse_uri_list(value, &mut rec.ruf),
        _ => true, // unknown tags are ignored (RFC 9989 §4.7)
    };
    if !ok {
        rec.problems.push(problem(name, value));
    }
}

fn set<T>(slot: &mut T, v: T) -> bool {
    *slot = v;
    true
}

fn problem(name: &[u8], value: &[u8]) -> TagProblem {
    TagProblem {
        tag: String::from_utf8_lossy(name).into_owned(),
        value: String::from_utf8_lossy(value).into_owned(),
        duplicate: false,
    }
}

/// Splits `name = value` with WSP around the `=` (RFC 9989 §4.8 `equals`).
fn split_tag(part: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = part.iter().position(|&b| b == b'=')?;
    let name = trim(part.get(..eq)?);
    let value = trim(part.get(eq + 1..)?);
    if name.is_empty() || !name.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    Some((name, value))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(start, |e| e + 1);
    s.get(start..end.max(start)).unwrap_or_default()
}

fn lower(v: &[u8]) -> Vec<u8> {
    v.to_ascii_lowercase()
}

fn parse_policy(v: &[u8]) -> Option<Policy> {
    match lower(v).as_slice() {
        b"none" => Some(Policy::None),
        b"quarantine" => Some(Policy::Quarantine),
        b"reject" => Some(Policy::Reject),
        _ => None,
    }
}

fn parse_mode(v: &[u8]) -> Option<AlignmentMode> {
    match lower(v).as_slice() {
        b"r" => Some(AlignmentMode::Relaxed),
        b"s" => Some(AlignmentMode::Strict),
        _ => None,
    }
}

fn parse_pct(v: &[u8]) -> Option<u8> {
    if v.is_empty() || v.len() > 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u32 = std::str::from_utf8(v).ok()?.parse().ok()?;
    u8::try_from(n).ok().filter(|&p| p <= 100)
}

fn parse_fo(v: &[u8]) -> Option<Vec<FailureOption>> {
    let mut out = Vec::new();
    for item in v.split(|&b| b == b':') {
        let opt = match lower(trim(item)).as_slice() {
            b"0" => FailureOption::All,
            b"1" => FailureOption::Any,
            b"d" => FailureOption::Dkim,
            b"s" => FailureOption::Spf,
            _ => return None,
        };
        if !out.contains(&opt) {
            out.push(opt);
        }
    }
    if out.contains(&FailureOption::All) && out.contains(&FailureOption::Any) {
        return None;
    }
    Some(out)
}

/// `rf`: registered report formats only (RFC 7489 §6.3: only `afrf`).
fn parse_rf(v: &[u8]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for item in v.split(|&b| b == b':') {
        let item = lower(trim(item));
        if item != b"afrf" {
            return None;
        }
        out.push("afrf".to_string());
    }
    Some(out)
}

/// Parses a `rua`/`ruf` list; keeps the syntactically valid URIs. True when at least one was
/// valid (RFC 9989 §4.10.1 needs "at least one syntactically valid reporting URI").
fn parse_uri_list(v: &[u8], out: &mut Vec<ReportUri>) -> bool {
    out.clear();
    for item in v.split(|&b| b == b',') {
        if let Some(uri) = parse_uri(trim(item)) {
            out.push(uri);
        }
    }
    !out.is_empty()
}

/// `URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]` (RFC 7489 §6.4; obsolete in RFC 9989 §4.8).
fn parse_uri(item: &[u8]) -> Option<ReportUri> {
    let text = std::str::from_utf8(item).ok()?;
    let (uri, size) = match text.rsplit_once('!') {
        Some((u, s)) => (u, Some(s)),
        None => (text, None),
    };
    let max_size = match size {
        None => None,
        Some(s) => Some(parse_size(s)?),
    };
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        || rest.is_empty()
        || !uri.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "mailto" {
        let addr = rest.split('?').next().unwrap_or(rest);
        let (local, domain) = addr.rsplit_once('@').unwrap_or(("", addr));
        let domain = domain.trim_start_matches('/');
        if local.is_empty() && !rest.starts_with("//") {
            return None;
        }
        if domain.is_empty() {
            return None;
        }
    }
    Some(ReportUri {
        uri: uri.to_string(),
        scheme,
        max_size,
    })
}

fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (s.get(..i)?, Some(c.to_ascii_lowercase())),
        _ => (s, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let shift = match unit {
        None => 0,
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some(_) => return None,
    };
    // `1*DIGIT` sets no bound: a size past 64 bits is no limit at all, not a broken URI
    // (RFC 9990 §3.5: every remaining URI is tried)
    let n: u64 = digits.parse().unwrap_or(u64::MAX);
    Some(n.saturating_mul(1u64 << shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_record() {
        let r = parse_record(
            b"v=DMARC1; p=reject; sp=quarantine; np=none; psd=n; t=y; adkim=s; aspf=r; pct=50; \
              rua=mailto:a@example.com!10m, https://r.example/x; ruf=mailto:f@example.com; \
              fo=1:d:s; rf=afrf; ri=3600; x=unknown",
        )
        .unwrap();
        assert_eq!(r.policy, Some(Policy::Reject));
        assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
        assert_eq!(r.nonexistent_policy, Some(Policy::None));
        assert_eq!(r.psd, Psd::No);
        assert!(r.testing);
        assert_eq!(r.adkim, AlignmentMode::Strict);
        assert_eq!(r.pct, 50);
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[0].max_size, Some(10 << 20));
        assert_eq!(r.rua[0].mailto_address(), Some("a@example.com"));
        assert_eq!(
            r.fo,
            vec![FailureOption::Any, FailureOption::Dkim, FailureOption::Spf]
        );
        assert_eq!(r.ri, 3600);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    /// Thousands of unknown tags are ignored (RFC 9989 §4.7) and a repeated known tag keeps
    /// its first value wherever the repeat stands.
    #[test]
    fn many_unknown_tags_and_a_late_duplicate() {
        let unknown: String = (0..20_000).map(|i| format!("x{i}=1;")).collect();
        let r = parse_record(format!("v=DMARC1; p=reject; {unknown} p=none").as_bytes()).unwrap();
        assert_eq!(r.policy, Some(Policy::Reject));
        assert_eq!(r.problems.len(), 1, "only the repeated p");
        assert_eq!(r.problem("p").map(|p| p.value.as_str()), Some("none"));
    }

    #[test]
    fn version_rules() {
        assert_eq!(parse_record(b""), Err(DmarcError::EmptyRecord));
        assert!(matches!(
            parse_record(b"v=DMARC2; p=none"),
            Err(DmarcError::NotDmarc(_))
        ));
        assert!(matches!(
            parse_record(b"v=dmarc1; p=none"),
            Err(DmarcError::NotDmarc(_))
        ));
        assert!(matches!(
            parse_record(b"p=none; v=DMARC1"),
            Err(DmarcError::NotDmarc(_))
        ));
        assert!(matches!(
            parse_record(b"v=DMARC1 p=none"),
            Err(DmarcError::NotDmarc(_))
        ));
        assert!(parse_record(b"V = DMARC1 ;P=Reject").unwrap().policy == Some(Policy::Reject));
        assert!(parse_record(b"v=DMARC1").unwrap().policy.is_none());
    }

    #[test]
    fn invalid_values_are_discarded() {
        let r = parse_record(b"v=DMARC1; p=bogus; pct=101; adkim=x; rua=nope").unwrap();
        assert_eq!(r.policy, None);
        assert!(r.present.p);
        assert_eq!(r.pct, 100);
        assert_eq!(r.adkim, AlignmentMode::Relaxed);
        assert_eq!(r.problems.len(), 4);
        assert!(!r.has_valid_policy(true));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2T"), Some(2 << 40));
        // `1*DIGIT` past 64 bits: no limit, not a URI to drop (RFC 9990 §3.5)
        assert_eq!(parse_size("99999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_size("99999999999999t"), Some(u64::MAX));
        assert_eq!(parse_size("k"), None);
    }
}
