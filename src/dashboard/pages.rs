//! The dashboard's pages (module docs of `dashboard`): routing, the period from the query
//! string, and the HTML (maud escapes every value: names from DNS and reports are text from
//! the network).

use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use report_store::{
    DomainOverview, DomainSummary, OutboundDomain, Provenance, ReporterName, SourceSummary, Span,
    Store, Unverified,
};

use super::chart::{results_chart, thousands};
use crate::reports::period::{self, format_day};

/// Sources listed on a domain page at most (failing first; the total is shown).
pub const MAX_SOURCES: usize = 200;
/// DKIM selectors listed at most.
const MAX_SELECTORS: usize = 100;
/// Reporters listed at most (most messages first; the total is shown).
const MAX_REPORTERS: usize = 100;
/// Policy domains listed at most on the domain list and the outbound view (most messages
/// first; the total is shown).
pub const MAX_DOMAINS: usize = 500;
/// The period when the query string names none.
const DEFAULT_DAYS: u64 = 30;
/// The periods offered as links.
const PERIODS: [u64; 4] = [7, 30, 90, 365];

/// Nothing from elsewhere, no script; inline styles and the inline SVG only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header a{color:#cfd8dc;text-decoration:none}header a:hover{color:#fff}
header .brand{font-weight:600;color:#fff}
main{padding:16px 24px;max-width:1400px}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:24px 0 8px}
.periods a{margin-right:10px}.periods .current{font-weight:600;text-decoration:none;color:#222}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card .v{font-size:20px;font-weight:600}.card .k{color:#666;font-size:12px}
table{border-collapse:collapse;background:#fff;border:1px solid #ddd}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f0f0f0;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.failing td{background:#fff3f3}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32}
.muted{color:#777}.chart{width:100%;max-width:960px;background:#fff;border:1px solid #ddd}
";

/// A plain-text answer (errors, 401, 404).
pub fn plain(status: StatusCode, text: &str) -> Response<String> {
    let mut r = Response::new(text.to_string());
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure(r)
}

fn secure(mut r: Response<String>) -> Response<String> {
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        hyper::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html_page(markup: Markup) -> Response<String> {
    let mut r = Response::new(markup.into_string());
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(r)
}

/// Query parameters read at most; more is a 400.
const MAX_QUERY_PAIRS: usize = 16;

/// The period of a request and the query string that keeps it in links.
struct Period {
    span: Span,
    days: u64,
    until: Option<String>,
}

impl Period {
    fn from_query(query: Option<&str>, now: u64) -> Result<Period, String> {
        let mut days = DEFAULT_DAYS;
        let mut until = None;
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        for (n, (k, v)) in pairs.enumerate() {
            if n >= MAX_QUERY_PAIRS {
                // a `days` past the limit would be ignored without a word otherwise
                return Err(format!("more than {MAX_QUERY_PAIRS} query parameters"));
            }
            match k.as_ref() {
                "days" => days = period::days(&v).map_err(|e| e.to_string())?,
                "until" if !v.trim().is_empty() => until = Some(v.trim().to_string()),
                _ => {}
            }
        }
        let span =
            period::span(&format!("{days}d"), until.as_deref(), now).map_err(|e| e.to_string())?;
        Ok(Period { span, days, until })
    }

    /// `?days=N[&until=…]` for links, with `days` replaced when given.
    fn query(&self, days: Option<u64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("days", &days.unwrap_or(self.days).to_string());
        if let Some(u) = &self.until {
            q.append_pair("until", u);
        }
        format!("?{}", q.finish())
    }

    fn label(&self) -> String {
        let last = self.span.end.saturating_sub(86_400);
        // the days shown, which the epoch can cut short (`?until=1970-01-10&days=400`)
        let days = self.span.end.saturating_sub(self.span.begin) / 86_400;
        format!(
            "{} to {} ({} days, UTC)",
            format_day(self.span.begin),
            format_day(last),
            days
        )
    }
}

/// The answer for `path` and `query` (after access was checked).
pub async fn page(store: &Store, path: &str, query: Option<&str>, now: u64) -> Response<String> {
    let period = match Period::from_query(query, now) {
        Ok(p) => p,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    let result = if path == "/" {
        store
            .received_domains(period.span, MAX_DOMAINS)
            .await
            .map(|(d, total)| overview(&d, total, &period))
    } else if path == "/outbound" {
        store
            .outbound_summary(period.span, MAX_DOMAINS)
            .await
            .map(|(o, total)| outbound(&o, total, &period))
    } else if let Some(name) = path.strip_prefix("/domain/").filter(|n| domain_like(n)) {
        store
            .received_domain_summary(name, period.span, MAX_SOURCES, MAX_SELECTORS, MAX_REPORTERS)
            .await
            .map(|s| domain(&s, &period))
    } else {
        return plain(StatusCode::NOT_FOUND, "no such page\n");
    };
    match result {
        Ok(markup) => html_page(markup),
        Err(e) => {
            tracing::warn!("dashboard: the store failed: {e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the report store failed (see the log)\n",
            )
        }
    }
}

/// A domain name as the store keeps them (letters, digits, `-`, `_`, `.`; at least one letter
/// or digit: `..` names nothing).
fn domain_like(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_alphanumeric())
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.1}\u{a0}%", part as f64 * 100.0 / whole as f64)
}

/// `good` at 98 % and more, `bad` under 90 %.
fn rate_class(part: u64, whole: u64) -> &'static str {
    if whole == 0 {
        return "muted";
    }
    let r = part as f64 / whole as f64;
    if r >= 0.98 {
        "good"
    } else if r < 0.9 {
        "bad"
    } else {
        ""
    }
}

fn layout(title: &str, period: &Period, path: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – authmilter" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "authmilter DMARC reports" }
                    a href={ "/" (period.query(None)) } { "Domains" }
                    a href={ "/outbound" (period.query(None)) } { "Outbound" }
                }
                main {
                    h1 { (title) }
                    p.periods {
                        span.muted { (period.label()) " · " }
                        @for d in PERIODS {
                            @if d == period.days {
                                a.current href={ (path) (period.query(Some(d))) } { (d) " days" }
                            } @else {
                                a href={ (path) (period.query(Some(d))) } { (d) " days" }
                            }
                        }
                    }
                    (body)
                }
            }
        }
    }
}

/// "The 500 of 1234 domains with the most messages." when not all are shown.
fn shown_of(shown: usize, total: usize) -> Markup {
    html! {
        @if shown < total {
            p.muted { "The " (shown) " of " (total) " domains with the most messages." }
        }
    }
}

fn overview(domains: &[DomainOverview], total: usize, period: &Period) -> Markup {
    let body = html! {
        p { "Aggregate reports (RFC 9990) other receivers sent about mail using your domains." }
        (shown_of(domains.len(), total))
        @if domains.is_empty() {
            p.muted { "No reports in this period." }
        } @else {
            table #domains {
                thead { tr {
                    th { "Domain" } th.n { "Messages" } th.n { "DMARC pass" }
                    th.n { "Reports" } th.n { "Reporters" } th { "Last day" }
                    th { "Not counted" }
                } }
                tbody {
                    @for d in domains {
                        tr {
                            @if domain_like(&d.policy_domain) {
                                td { a href={ "/domain/" (d.policy_domain) (period.query(None)) } { (d.policy_domain) } }
                            } @else {
                                td { (d.policy_domain) }
                            }
                            td.n { (thousands(d.messages)) }
                            td class={ "n " (rate_class(d.dmarc_pass, d.messages)) } { (pct(d.dmarc_pass, d.messages)) }
                            td.n { (thousands(d.reports)) }
                            td.n { (d.reporters) }
                            td { (format_day(d.last_day)) }
                            td { (unverified_note(&d.unverified)) }
                        }
                    }
                }
            }
        }
    };
    layout("Domains", period, "/", body)
}

/// Who sent a reporter's reports (RFC 9990 §3.5.2, §8.2: `org_name` is the sender's text),
/// as `text`: a name whose reports did not pass DMARC is marked so, never shown as if it
/// were verified; the whole story in the title.
fn sent_mark(sent: &Provenance, text: &str) -> Markup {
    let class = if sent.counted() { "muted" } else { "bad" };
    html! { span class=(class) title=(sent.describe()) { "(" (text) ")" } }
}

/// The reports left out of the figures (RFC 9990 §8.2: an unverified sender), said beside
/// them: `+ 1 000 000 messages in 1 unverified report, not counted`; nothing when none.
fn unverified_note(u: &Unverified) -> Markup {
    html! {
        @if u.reports > 0 {
            span.bad title="reports whose sender is not verified (docs/reports.md, \"Who sent a report\"); listed under Reporters" {
                "+ " (thousands(u.messages)) " messages in " (u.reports)
                @if u.reports == 1 { " unverified report" } @else { " unverified reports" }
                ", not counted"
            }
        }
    }
}

fn source_row(s: &SourceSummary) -> Markup {
    let n = s.messages;
    let shown_reporters: Vec<&ReporterName> = s.reporters.iter().take(3).collect();
    html! {
        tr class=(if s.failing() > 0 { "failing" } else { "" }) {
            td { code { (s.ip) } }
            td { @match &s.name { Some(name) => (name), None => span.muted { "–" } } }
            td {
                // each name isolated: a reporter's bidi override cannot turn the next around
                @for (i, r) in shown_reporters.iter().enumerate() {
                    @if i > 0 { ", " }
                    bdi { (r.org_name) }
                    " " (sent_mark(&r.sent, &r.sent.short()))
                }
                @if s.reporters_total > shown_reporters.len() {
                    span.muted { " +" (s.reporters_total - shown_reporters.len()) }
                }
            }
            td.n { (thousands(n)) }
            td.n { (thousands(s.failing())) }
            td class={ "n " (rate_class(s.dmarc_pass, n)) } { (pct(s.dmarc_pass, n)) }
            td.n { (pct(s.spf_aligned, n)) }
            td.n { (pct(s.dkim_aligned, n)) }
            td.n { (pct(s.spf_pass, n)) }
            td.n { (pct(s.dkim_pass, n)) }
        }
    }
}

fn domain(s: &DomainSummary, period: &Period) -> Markup {
    let policy = s.policy.as_ref().map(|p| {
        let mut t = format!("p={}", p.p);
        if let Some(sp) = p.sp {
            t.push_str(&format!(" sp={sp}"));
        }
        if let Some(pct) = p.pct {
            t.push_str(&format!(" pct={pct}"));
        }
        t
    });
    let failing_sources = s.sources.iter().filter(|x| x.failing() > 0).count();
    let body = html! {
        div.cards {
            div.card { div.v { (thousands(s.messages)) } div.k { "messages reported" } }
            div.card {
                div class={ "v " (rate_class(s.dmarc_pass, s.messages)) } { (pct(s.dmarc_pass, s.messages)) }
                div.k { "DMARC pass" }
            }
            div.card { div.v { (thousands(s.messages.saturating_sub(s.dmarc_pass))) } div.k { "failing DMARC" } }
            div.card { div.v { (s.sources_total) } div.k { "sources" } }
            div.card { div.v { (s.reporters_counted) } div.k { "reporters" } }
            div.card {
                div.v { @match &policy { Some(p) => (p), None => "–" } }
                div.k { "policy as last reported" }
            }
        }
        @if s.unverified.reports > 0 {
            p { (unverified_note(&s.unverified)) }
        }
        h2 { "Messages by result" }
        (results_chart(&s.days))
        h2 { "Sources sending as " (s.policy_domain) }
        p.muted {
            "Failing sources first. "
            @if s.sources.len() < s.sources_total {
                "The " (s.sources.len()) " of " (s.sources_total) " sources with the most failing messages. "
            }
            (failing_sources) " listed with DMARC failures. Aligned: the pass counts for DMARC; "
            "SPF/DKIM pass: authenticated for some domain, aligned or not."
        }
        table #sources {
            thead { tr {
                th { "Source IP" } th { "Name (PTR)" } th { "Reported by" }
                th.n { "Messages" } th.n { "Failing" } th.n { "DMARC pass" }
                th.n { "SPF aligned" } th.n { "DKIM aligned" } th.n { "SPF pass" } th.n { "DKIM pass" }
            } }
            tbody { @for src in &s.sources { (source_row(src)) } }
        }
        h2 { "DKIM selectors seen" }
        @if s.selectors.is_empty() {
            p.muted { "None in this period." }
        } @else {
            table #selectors {
                thead { tr { th { "Domain (d=)" } th { "Selector (s=)" } th.n { "Messages" } th.n { "Verified" } } }
                tbody {
                    @for sel in &s.selectors {
                        tr {
                            td { (sel.domain) }
                            td { @if sel.selector.is_empty() { span.muted { "(not reported)" } } @else { (sel.selector) } }
                            td.n { (thousands(sel.messages)) }
                            td class={ "n " (rate_class(sel.pass, sel.messages)) } { (pct(sel.pass, sel.messages)) }
                        }
                    }
                }
            }
        }
        h2 { "Reporters" }
        @if s.reporters.len() < s.reporters_total {
            p.muted { "The " (s.reporters.len()) " of " (s.reporters_total) " reporters with the most messages." }
        }
        table #reporters {
            thead { tr { th { "Organization (as the reports name it)" } th { "Sent by" } th.n { "Reports" } th.n { "Messages" } } }
            tbody {
                @for r in &s.reporters {
                    tr { td { bdi { (r.org_name) } } td { (sent_mark(&r.sent, &r.sent.describe())) } td.n { (thousands(r.reports)) } td.n { (thousands(r.messages)) } }
                }
            }
        }
    };
    let path = format!("/domain/{}", s.policy_domain);
    layout(&s.policy_domain, period, &path, body)
}

fn outbound(domains: &[OutboundDomain], total: usize, period: &Period) -> Markup {
    let body = html! {
        p {
            "What this milter recorded about the mail it received, per policy domain, and the "
            "aggregate reports it sent them (" code { "[reports]" } ")."
        }
        (shown_of(domains.len(), total))
        @if domains.is_empty() {
            p.muted { "Nothing recorded in this period." }
        } @else {
            table #outbound {
                thead { tr {
                    th { "Policy domain" } th.n { "Messages" } th.n { "DMARC pass" }
                    th.n { "Reports sent" } th.n { "Pending" } th.n { "Not sent" }
                } }
                tbody {
                    @for d in domains {
                        tr {
                            td { (d.policy_domain) }
                            td.n { (thousands(d.messages)) }
                            td class={ "n " (rate_class(d.dmarc_pass, d.messages)) } { (pct(d.dmarc_pass, d.messages)) }
                            td.n { (d.sent) }
                            td.n { (d.pending) }
                            td class=(if d.not_sent > 0 { "n bad" } else { "n" }) { (d.not_sent) }
                        }
                    }
                }
            }
        }
    };
    layout(
        "Outbound: what we recorded and sent",
        period,
        "/outbound",
        body,
    )
}

#[cfg(test)]
mod tests;
