//! `check_host()` (RFC 7208 §4): record lookup and selection, mechanism evaluation (§5),
//! `redirect=` and `exp=` (§6), processing limits (§4.6.4).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use dns::{DnsError, Resolver};
use ipnet::{Ipv4Net, Ipv6Net};

use crate::config::Config;
use crate::error::SpfError;
use crate::macros::{MacroContext, MacroString};
use crate::names::{
    is_subdomain, is_valid_domain, split_sender, strip_angle, to_target_name, trim_ascii,
};
use crate::record::{DualCidr, Mechanism, Qualifier, Record, select_record};
use crate::{SpfOutput, SpfResult};

mod explanation;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Evaluates SPF policies (RFC 7208 §4). Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Evaluator {
    config: Arc<Config>,
}

/// A non-error result of one (possibly nested) evaluation.
struct Verdict {
    /// Pass, Fail, SoftFail, Neutral or None.
    result: SpfResult,
    /// The `<domain>` whose record decided.
    domain: String,
    /// The deciding directive, or `default`.
    mechanism: Option<String>,
    /// The `exp=` of the deciding record, for `fail` (RFC 7208 §6.2).
    exp: Option<MacroString>,
}

impl Verdict {
    fn none(domain: &str) -> Self {
        Verdict {
            result: SpfResult::None,
            domain: domain.to_string(),
            mechanism: None,
            exp: None,
        }
    }
}

/// Per-evaluation state: the arguments that stay fixed (RFC 7208 §4.1) and the counters that are
/// global across include/redirect (RFC 7208 §4.6.4).
struct Session<'a> {
    resolver: &'a dyn Resolver,
    config: &'a Config,
    ip: IpAddr,
    local_part: Vec<u8>,
    sender_domain: Vec<u8>,
    helo: Vec<u8>,
    dns_terms: usize,
    void_lookups: usize,
    /// Names of the client IP that validated (for `%{p}`), looked up once.
    validated: Option<Vec<String>>,
    used_local_part: bool,
    started: Instant,
    /// The records read, as published (for [`SpfOutput::records`]), and their bytes.
    kept_records: Vec<(String, String)>,
    kept_bytes: usize,
    /// Bytes of the records read so far (bounded by [`MAX_RECORD_BYTES`]).
    record_bytes: usize,
}

/// Most bytes of SPF records one evaluation reads, all levels together: real records are a
/// few hundred bytes, a TXT RRset can be 64 KiB (RFC 7208 §3.4, §4.6.4).
const MAX_RECORD_BYTES: usize = 32 * 1024;

/// Most bytes of record text kept for [`SpfOutput::records`] (a failure report's `SPF-DNS`
/// fields): the HELO's output lives as long as its connection.
const MAX_KEPT_RECORD_BYTES: usize = 4096;

impl Evaluator {
    /// An evaluator with `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `check_host(<ip>, <domain>, <sender>)` (RFC 7208 §4). `sender` is `local-part@domain` or
    /// a bare domain (then the local-part is `postmaster`, §4.3); `helo` feeds `%{h}`.
    pub async fn check_host(
        &self,
        resolver: &dyn Resolver,
        ip: IpAddr,
        domain: &str,
        sender: &[u8],
        helo: &[u8],
    ) -> SpfOutput {
        let (local_part, sender_domain) = split_sender(sender);
        let mut session = Session {
            resolver,
            config: &self.config,
            // IPv4-mapped IPv6 clients are evaluated as IPv4 (RFC 7208 §5, RFC 4291 §2.5.5.2)
            ip: ip.to_canonical(),
            local_part,
            sender_domain,
            helo: helo.to_vec(),
            dns_terms: 0,
            void_lookups: 0,
            validated: None,
            used_local_part: false,
            started: Instant::now(),
            kept_records: Vec::new(),
            kept_bytes: 0,
            record_bytes: 0,
        };
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let mut sender_text = session.local_part.clone();
        sender_text.push(b'@');
        sender_text.extend_from_slice(&session.sender_domain);
        let mut out = SpfOutput {
            result: SpfResult::None,
            domain: domain.to_string(),
            sender: String::from_utf8_lossy(&sender_text).into_owned(),
            mechanism: None,
            explanation: None,
            dns_terms: 0,
            void_lookups: 0,
            problem: None,
            used_local_part: false,
            records: Vec::new(),
        };
        // One trailing dot is the root; a second is a zero-length label (RFC 7208 §4.3).
        if domain.ends_with('.') || !is_valid_domain(domain, true) {
            return out;
        }
        match session.check(domain.to_string(), 0).await {
            Ok(verdict) => {
                out.result = verdict.result;
                out.mechanism = verdict.mechanism;
                if verdict.result == SpfResult::Fail {
                    out.explanation = session.explain(verdict.exp.as_ref(), &verdict.domain).await;
                }
            }
            Err(e) => {
                out.result = if e.is_temporary() {
                    SpfResult::TempError
                } else {
                    SpfResult::PermError
                };
                out.problem = Some(e);
            }
        }
        out.dns_terms = session.dns_terms;
        out.void_lookups = session.void_lookups;
        out.used_local_part = session.used_local_part;
        out.records = session.kept_records;
        out
    }

    /// Checks the MAIL FROM identity (RFC 7208 §2.4): `mail_from` is the reverse-path (angle
    /// brackets optional); when it is null, `postmaster@<helo>` is checked.
    pub async fn check_mail_from(
        &self,
        resolver: &dyn Resolver,
        ip: IpAddr,
        mail_from: &[u8],
        helo: &[u8],
    ) -> SpfOutput {
        let path = strip_angle(mail_from);
        if path.is_empty() {
            return self.check_helo(resolver, ip, helo).await;
        }
        let (_, domain) = split_sender(path);
        let domain = String::from_utf8_lossy(&domain).into_owned();
        self.check_host(resolver, ip, &domain, path, helo).await
    }

    /// Checks the HELO identity (RFC 7208 §2.3): `postmaster@<helo>`. An address literal or a
    /// name that is not a multi-label domain gives `none`.
    pub async fn check_helo(&self, resolver: &dyn Resolver, ip: IpAddr, helo: &[u8]) -> SpfOutput {
        let helo = trim_ascii(helo);
        let domain = String::from_utf8_lossy(helo).into_owned();
        self.check_host(resolver, ip, &domain, helo, helo).await
    }
}

impl Session<'_> {
    /// One level of `check_host()`; nested for include and redirect.
    fn check(&mut self, domain: String, depth: usize) -> BoxFuture<'_, Result<Verdict, SpfError>> {
        Box::pin(async move {
            if depth > self.config.limits.max_depth {
                return Err(SpfError::TooDeep(self.config.limits.max_depth));
            }
            if !is_valid_domain(&domain, false) {
                return Ok(Verdict::none(&domain));
            }
            self.check_elapsed()?;
            // the answer is dropped once its record is parsed: the levels below this one
            // must not each hold their parent's whole RRset
            let record = {
                let txts = match self.resolver.txt(&domain).await {
                    Ok(t) => t,
                    Err(DnsError::NxDomain | DnsError::NoData | DnsError::InvalidName(_)) => {
                        return Ok(Verdict::none(&domain));
                    }
                    Err(error) => return Err(dns_error(&domain, error)),
                };
                let Some(text) = select_record(&domain, &txts)? else {
                    return Ok(Verdict::none(&domain));
                };
                self.record_bytes += text.len();
                if self.record_bytes > MAX_RECORD_BYTES {
                    return Err(SpfError::RecordsTooLarge(MAX_RECORD_BYTES));
                }
                if self.kept_bytes + text.len() <= MAX_KEPT_RECORD_BYTES {
                    self.kept_bytes += text.len();
                    let text = String::from_utf8_lossy(text).into_owned();
                    self.kept_records.push((domain.clone(), text));
                }
                Record::parse(text)?
            };
            self.evaluate(record, domain, depth).await
        })
    }

    async fn evaluate(
        &mut self,
        record: Record,
        domain: String,
        depth: usize,
    ) -> Result<Verdict, SpfError> {
        for directive in &record.directives {
            if directive.mechanism.queries_dns() {
                self.count_term()?;
            }
            if self.matches(&directive.mechanism, &domain, depth).await? {
                let result = match directive.qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::SoftFail,
                    Qualifier::Neutral => SpfResult::Neutral,
                };
                return Ok(Verdict {
                    result,
                    mechanism: Some(directive.text.clone()),
                    exp: record.exp.clone(),
                    domain,
                });
            }
        }
        if let Some(redirect) = record.redirect.as_ref().filter(|_| !record.has_all()) {
            self.count_term()?;
            let label = String::from_utf8_lossy(redirect.as_bytes()).into_owned();
            // a non-ASCII local-part names no domain (RFC 8616 §4), not even URL-escaped
            if redirect.uses_local_part() && !self.local_part.is_ascii() {
                self.used_local_part = true;
                return Err(SpfError::RedirectNone(label));
            }
            let target = self
                .target(redirect, &domain, true)
                .await?
                .ok_or(SpfError::RedirectNone(label))?;
            let verdict = self.check(target.clone(), depth + 1).await?;
            if verdict.result == SpfResult::None {
                return Err(SpfError::RedirectNone(target));
            }
            return Ok(verdict);
        }
        Ok(Verdict {
            result: SpfResult::Neutral,
            domain,
            mechanism: Some("default".to_string()),
            exp: None,
        })
    }

    /// Evaluates one mechanism: `Ok(true)` on a match (RFC 7208 §4.6.2, §5).
    async fn matches(
        &mut self,
        mechanism: &Mechanism,
        domain: &str,
        depth: usize,
    ) -> Result<bool, SpfError> {
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { addr, prefix } => Ok(match self.ip {
                IpAddr::V4(ip) => Ipv4Net::new(*addr, *prefix).is_ok_and(|n| n.contains(&ip)),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6 { addr, prefix } => Ok(match self.ip {
                IpAddr::V6(ip) => Ipv6Net::new(*addr, *prefix).is_ok_and(|n| n.contains(&ip)),
                IpAddr::V4(_) => false,
            }),
            // A non-ASCII local-part is no DNS label: such terms match nothing (RFC 8616 §4),
            // also through `%{L}`/`%{S}`, whose URL-escaped expansion is ASCII (RFC 7208 §7.3)
            m if !self.local_part.is_ascii()
                && m.domain_spec().is_some_and(MacroString::uses_local_part) =>
            {
                self.used_local_part = true;
                Ok(false)
            }
            Mechanism::Include(spec) => {
                let label = String::from_utf8_lossy(spec.as_bytes()).into_owned();
                let Some(target) = self.target(spec, domain, true).await? else {
                    return Err(SpfError::IncludeNone(label));
                };
                let verdict = self.check(target.clone(), depth + 1).await?;
                match verdict.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::None => Err(SpfError::IncludeNone(target)),
                    _ => Ok(false),
                }
            }
            Mechanism::A { domain: spec, cidr } => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await? else {
                    return Ok(false);
                };
                match self.addresses(&target).await? {
                    Some(ips) => Ok(ips.iter().any(|a| in_cidr(self.ip, *a, *cidr))),
                    None => {
                        self.count_void()?;
                        Ok(false)
                    }
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await? else {
                    return Ok(false);
                };
                self.mx_matches(&target, *cidr).await
            }
            Mechanism::Ptr(spec) => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await? else {
                    return Ok(false);
                };
                self.ptr_matches(&target).await
            }
            Mechanism::Exists(spec) => {
                let Some(target) = self.target(spec, domain, true).await? else {
                    return Ok(false);
                };
                self.check_elapsed()?;
                match self.resolver.a(&target).await {
                    Ok(ips) => Ok(!ips.is_empty()),
                    Err(DnsError::NxDomain | DnsError::NoData) => {
                        self.count_void()?;
                        Ok(false)
                    }
                    Err(DnsError::InvalidName(_)) => Ok(false),
                    Err(error) => Err(dns_error(&target, error)),
                }
            }
        }
    }

    /// `mx` (RFC 7208 §5.4): at most `mx_names` exchanges, else permerror; an address lookup
    /// error on any of them is temperror, a match on any of them without one is a match.
    async fn mx_matches(&mut self, target: &str, cidr: DualCidr) -> Result<bool, SpfError> {
        self.check_elapsed()?;
        let exchanges = match self.resolver.mx(target).await {
            Ok(mx) => mx,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                self.count_void()?;
                return Ok(false);
            }
            Err(DnsError::InvalidName(_)) => return Ok(false),
            Err(error) => return Err(dns_error(target, error)),
        };
        let limit = self.config.limits.mx_names;
        if exchanges.len() > limit {
            return Err(SpfError::TooManyMxNames {
                domain: target.to_string(),
                count: exchanges.len(),
                limit,
            });
        }
        // Every exchange is looked up before deciding, so that a DNS error on any of them is
        // temperror whatever order the server listed them in (RFC 7208 §5, §5.4).
        let mut matched = false;
        for mx in &exchanges {
            // A null MX (RFC 7505) names the root: nothing to look up.
            let host = mx.exchange.trim_end_matches('.');
            if host.is_empty() {
                continue;
            }
            if let Some(ips) = self.addresses(host).await? {
                matched |= ips.iter().any(|a| in_cidr(self.ip, *a, cidr));
            }
        }
        Ok(matched)
    }

    /// `ptr` (RFC 7208 §5.5): DNS errors on the PTR lookup mean no match; address lookup errors
    /// skip that name.
    async fn ptr_matches(&mut self, target: &str) -> Result<bool, SpfError> {
        self.check_elapsed()?;
        let names = match self.resolver.ptr(self.ip).await {
            Ok(names) => names,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                self.count_void()?;
                return Ok(false);
            }
            Err(_) => return Ok(false),
        };
        let limit = self.config.limits.ptr_names;
        for name in names.iter().take(limit) {
            let name = name.trim_end_matches('.');
            if !is_subdomain(name, target) {
                continue;
            }
            if self.validates(name).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// True when `name` resolves to the client IP (RFC 7208 §5.5 validation). Lookup errors
    /// count as "not validated"; an exhausted time budget is temperror (RFC 7208 §4.6.4).
    async fn validates(&mut self, name: &str) -> Result<bool, SpfError> {
        self.check_elapsed()?;
        let found = match self.ip {
            IpAddr::V4(ip) => self.resolver.a(name).await.map(|ips| ips.contains(&ip)),
            IpAddr::V6(ip) => self.resolver.aaaa(name).await.map(|ips| ips.contains(&ip)),
        };
        Ok(found.unwrap_or(false))
    }

    /// A or AAAA records of `name`, per the client's address family (RFC 7208 §5). `Ok(None)`:
    /// NXDOMAIN or no data; an invalid name gives `Ok(Some(empty))`.
    async fn addresses(&mut self, name: &str) -> Result<Option<Vec<IpAddr>>, SpfError> {
        self.check_elapsed()?;
        let answer = match self.ip {
            IpAddr::V4(_) => self
                .resolver
                .a(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V4).collect()),
            IpAddr::V6(_) => self
                .resolver
                .aaaa(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V6).collect()),
        };
        match answer {
            Ok(ips) => Ok(Some(ips)),
            Err(DnsError::NxDomain | DnsError::NoData) => Ok(None),
            Err(DnsError::InvalidName(_)) => Ok(Some(Vec::new())),
            Err(error) => Err(dns_error(name, error)),
        }
    }

    async fn optional_target(
        &mut self,
        spec: Option<&MacroString>,
        domain: &str,
    ) -> Result<Option<String>, SpfError> {
        match spec {
            Some(spec) => self.target(spec, domain, true).await,
            None => Ok(Some(domain.to_string())),
        }
    }

    /// Expands a domain-spec into a `<target-name>` (RFC 7208 §4.8, §7.3): strips a trailing
    /// dot, truncates from the left to 253 octets, and returns `None` for a name DNS cannot carry.
    async fn target(
        &mut self,
        spec: &MacroString,
        domain: &str,
        counted: bool,
    ) -> Result<Option<String>, SpfError> {
        if counted && spec.uses_local_part() {
            self.used_local_part = true;
        }
        let validated = if spec.uses_validated_name() {
            Some(self.validated_name(domain, counted).await?)
        } else {
            None
        };
        let ctx = self.context(domain, validated.as_deref());
        let Ok(expanded) = spec.expand(&ctx) else {
            return Ok(None);
        };
        Ok(to_target_name(&expanded))
    }

    fn context<'s>(&'s self, domain: &'s str, validated: Option<&'s str>) -> MacroContext<'s> {
        MacroContext {
            local_part: &self.local_part,
            sender_domain: &self.sender_domain,
            domain: domain.as_bytes(),
            ip: self.ip,
            helo: &self.helo,
            validated_name: validated.map(str::as_bytes),
            receiver: self.config.receiver.as_deref().map(str::as_bytes),
            timestamp: self.config.clock.now_unix(),
        }
    }

    /// `%{p}` (RFC 7208 §7.3): the validated name equal to `domain`, else one below it, else
    /// any; `unknown` when none validates. The PTR lookup counts as one DNS term when `counted`.
    async fn validated_name(&mut self, domain: &str, counted: bool) -> Result<String, SpfError> {
        if self.validated.is_none() {
            if counted {
                self.count_term()?;
            }
            let mut valid = Vec::new();
            if self.check_elapsed().is_ok()
                && let Ok(names) = self.resolver.ptr(self.ip).await
            {
                for name in names.iter().take(self.config.limits.ptr_names) {
                    let name = name.trim_end_matches('.');
                    if self.validates(name).await? {
                        valid.push(name.to_string());
                    }
                }
            }
            self.validated = Some(valid);
        }
        let valid = self.validated.as_deref().unwrap_or_default();
        let pick = valid
            .iter()
            .find(|n| n.eq_ignore_ascii_case(domain))
            .or_else(|| valid.iter().find(|n| is_subdomain(n, domain)))
            .or_else(|| valid.first());
        Ok(pick.cloned().unwrap_or_else(|| "unknown".to_string()))
    }

    /// Counts one DNS-querying term (RFC 7208 §4.6.4).
    fn count_term(&mut self) -> Result<(), SpfError> {
        self.dns_terms = self.dns_terms.saturating_add(1);
        if self.dns_terms > self.config.limits.dns_terms {
            return Err(SpfError::TooManyLookups(self.config.limits.dns_terms));
        }
        Ok(())
    }

    /// Counts one void lookup (RFC 7208 §4.6.4).
    fn count_void(&mut self) -> Result<(), SpfError> {
        self.void_lookups = self.void_lookups.saturating_add(1);
        if self.void_lookups > self.config.limits.void_lookups {
            return Err(SpfError::TooManyVoidLookups(
                self.config.limits.void_lookups,
            ));
        }
        Ok(())
    }

    /// Fails with a temporary error once the time budget is spent (RFC 7208 §4.6.4).
    fn check_elapsed(&self) -> Result<(), SpfError> {
        match self.config.limits.max_elapsed {
            Some(max) if self.started.elapsed() > max => Err(SpfError::TimeLimit(max)),
            _ => Ok(()),
        }
    }
}

fn dns_error(name: &str, error: DnsError) -> SpfError {
    SpfError::Dns {
        name: name.to_string(),
        error,
    }
}

/// True when `ip` and `addr` share the CIDR prefix of their family (RFC 7208 §5).
fn in_cidr(ip: IpAddr, addr: IpAddr, cidr: DualCidr) -> bool {
    match (ip, addr) {
        (IpAddr::V4(ip), IpAddr::V4(a)) => Ipv4Net::new(a, cidr.v4).is_ok_and(|n| n.contains(&ip)),
        (IpAddr::V6(ip), IpAddr::V6(a)) => Ipv6Net::new(a, cidr.v6).is_ok_and(|n| n.contains(&ip)),
        _ => false,
    }
}
