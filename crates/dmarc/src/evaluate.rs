//! Policy discovery, alignment and disposition (RFC 9989 §4.10, §5.3; RFC 7489 §6.6).

use std::sync::Arc;

use dns::Resolver;

use crate::domain::{is_subdomain_or_same, normalize_identifier};
use crate::existence::author_exists;
use crate::from::author_domains;
use crate::orgdomain::{
    Lookup, LookupCache, psl_organizational_domain, select_org_domain, tree_walk,
    tree_walk_org_domain, walk_targets,
};
use crate::record::{AlignmentMode, Policy, Psd, Record};
use crate::{
    Config, DiscoveryMethod, Disposition, DkimAuth, DkimCheck, DkimOutcome, DmarcOutcome,
    DmarcResult, Evaluation, FromProblem, Mode, PolicySource, RandomSampler, Reason, RecordSource,
    Sampler, SpfAuth, SpfCheck, SpfOutcome,
};

/// A DMARC evaluator: configuration plus the `pct` random source (RFC 7489 §6.6.4).
/// Cheap to clone and share; holds no per-message state.
#[derive(Debug, Clone)]
pub struct Dmarc {
    config: Config,
    sampler: Arc<dyn Sampler>,
}

/// The result of policy discovery for a message (phase 1, at end of headers): the author
/// domains, their records and organizational domains, and the DNS answers seen so far.
/// Hand it to [`Dmarc::finish`] once SPF and DKIM are known.
#[derive(Debug, Clone)]
pub struct Discovery {
    from_problem: Option<FromProblem>,
    domains: Vec<DomainDiscovery>,
    cache: LookupCache,
    mode: Mode,
}

impl Discovery {
    /// Why the `From:` field(s) could not be evaluated, if so.
    pub fn from_problem(&self) -> Option<&FromProblem> {
        self.from_problem.as_ref()
    }

    /// The author domains found (A-labels, lowercase).
    pub fn author_domains(&self) -> Vec<&str> {
        self.domains.iter().map(|d| d.author.as_str()).collect()
    }
}

/// Policy discovery for one author domain.
#[derive(Debug, Clone)]
struct DomainDiscovery {
    author: String,
    /// The outcome when discovery already decided (none / temperror).
    early: Option<DmarcResult>,
    record: Option<Record>,
    policy_domain: Option<String>,
    record_source: Option<RecordSource>,
    org_domain: Option<String>,
    policy: Option<Policy>,
    policy_source: Option<PolicySource>,
    exists: Option<bool>,
    /// The existence query that picks `np` failed temporarily: the policy is unknown, which
    /// only matters when no identifier passes (RFC 9989 §5.3.5-§5.3.6).
    existence_unknown: bool,
    reasons: Vec<Reason>,
}

impl DomainDiscovery {
    fn new(author: String) -> Self {
        DomainDiscovery {
            author,
            early: None,
            record: None,
            policy_domain: None,
            record_source: None,
            org_domain: None,
            policy: None,
            policy_source: None,
            exists: None,
            existence_unknown: false,
            reasons: Vec::new(),
        }
    }

    fn stop(&mut self, result: DmarcResult, reason: Reason) {
        self.early = Some(result);
        self.reasons.push(reason);
    }
}

impl Dmarc {
    /// An evaluator with `config` and a random `pct` sampler.
    pub fn new(config: Config) -> Self {
        Dmarc {
            config,
            sampler: Arc::new(RandomSampler::new()),
        }
    }

    /// Replaces the `pct` sampler (tests inject a [`FixedSampler`](crate::FixedSampler)).
    pub fn with_sampler(mut self, sampler: Arc<dyn Sampler>) -> Self {
        self.sampler = sampler;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Evaluates DMARC for a message in one go: [`discover`](Self::discover) then
    /// [`finish`](Self::finish). `from_fields` are the raw values of every `From:` field.
    pub async fn evaluate<R: Resolver + ?Sized, T: AsRef<[u8]>>(
        &self,
        resolver: &R,
        from_fields: &[T],
        spf: Option<&SpfAuth>,
        dkim: &[DkimAuth],
    ) -> DmarcOutcome {
        let discovery = self.discover(resolver, from_fields).await;
        self.finish(resolver, discovery, spf, dkim).await
    }

    /// Phase 1 (end of headers): extracts the author domain(s) and discovers their policy
    /// records and organizational domains (RFC 9989 §5.3.1–§5.3.2, §4.10.1).
    pub async fn discover<R: Resolver + ?Sized, T: AsRef<[u8]>>(
        &self,
        resolver: &R,
        from_fields: &[T],
    ) -> Discovery {
        let mut discovery = Discovery {
            from_problem: None,
            domains: Vec::new(),
            cache: LookupCache::default(),
            mode: self.config.mode,
        };
        let authors = match author_domains(from_fields, &self.config) {
            Ok(a) => a,
            Err(p) => {
                discovery.from_problem = Some(p);
                return discovery;
            }
        };
        for author in authors {
            let mut d = DomainDiscovery::new(author);
            match self.config.mode {
                Mode::Rfc9989 => discover_9989(resolver, &mut discovery.cache, &mut d).await,
                Mode::Rfc7489 => discover_7489(resolver, &mut discovery.cache, &mut d).await,
            }
            if d.early.is_none() {
                self.choose_policy(resolver, &mut d).await;
            }
            discovery.domains.push(d);
        }
        discovery
    }

    /// Phase 2 (end of message): identifier alignment, result and disposition
    /// (RFC 9989 §5.3.3–§5.3.6; RFC 7489 §6.6.2 steps 5–6, §6.6.4).
    pub async fn finish<R: Resolver + ?Sized>(
        &self,
        resolver: &R,
        mut discovery: Discovery,
        spf: Option<&SpfAuth>,
        dkim: &[DkimAuth],
    ) -> DmarcOutcome {
        let mode = discovery.mode;
        if let Some(problem) = discovery.from_problem.take() {
            return DmarcOutcome {
                result: DmarcResult::PermError,
                disposition: Disposition::None,
                from_problem: Some(problem),
                evaluations: Vec::new(),
                mode,
                incomplete: None,
            };
        }
        let mut evaluations = Vec::new();
        let domains = std::mem::take(&mut discovery.domains);
        for d in domains {
            let e = self
                .evaluate_domain(resolver, &mut discovery.cache, d, spf, dkim)
                .await;
            evaluations.push(e);
        }
        // strictest first (RFC 7489 §6.6.1): disposition, then result severity
        evaluations.sort_by_key(|e| std::cmp::Reverse((e.disposition, severity(e.result))));
        let (result, disposition) = evaluations
            .first()
            .map_or((DmarcResult::PermError, Disposition::None), |e| {
                (e.result, e.disposition)
            });
        DmarcOutcome {
            result,
            disposition,
            from_problem: None,
            evaluations,
            mode,
            incomplete: None,
        }
    }

    /// Picks `p`, `sp` or `np` for the author domain (RFC 9989 §4.10.1; RFC 7489 §6.3 `sp`),
    /// checking whether the author domain exists when `np` matters (RFC 9989 §3.2.13).
    async fn choose_policy<R: Resolver + ?Sized>(&self, resolver: &R, d: &mut DomainDiscovery) {
        let Some(record) = d.record.as_ref() else {
            return;
        };
        let use_np = self.config.mode == Mode::Rfc9989;
        let policy_domain = d.policy_domain.clone().unwrap_or_default();
        let valid = record.has_valid_policy(use_np);
        if !valid {
            if record.rua.is_empty() {
                d.stop(
                    DmarcResult::None,
                    Reason::InvalidPolicyIgnored(policy_domain),
                );
                return;
            }
            d.reasons.push(Reason::InvalidPolicyAsNone(policy_domain));
            d.policy = Some(Policy::None);
            d.policy_source = Some(PolicySource::P);
            return;
        }
        if d.record_source == Some(RecordSource::AuthorDomain) {
            d.policy = record.policy;
            d.policy_source = Some(PolicySource::P);
            return;
        }
        let sp = record.subdomain_policy;
        // an np equal to the policy of existing subdomains picks nothing: no query for it
        let np = record
            .nonexistent_policy
            .filter(|np| use_np && Some(*np) != sp.or(record.policy));
        if np.is_some() {
            match author_exists(resolver, &d.author).await {
                Ok(exists) => {
                    d.exists = Some(exists);
                    if !exists {
                        d.reasons.push(Reason::AuthorDomainMissing);
                        d.policy = np;
                        d.policy_source = Some(PolicySource::Np);
                        return;
                    }
                }
                Err(()) => {
                    // a pass needs no policy: decided once the identifiers are known
                    d.existence_unknown = true;
                    return;
                }
            }
        }
        match sp {
            Some(p) => {
                d.policy = Some(p);
                d.policy_source = Some(PolicySource::Sp);
            }
            None => {
                d.policy = record.policy;
                d.policy_source = Some(PolicySource::P);
            }
        }
    }

    /// Alignment and result for one author domain.
    async fn evaluate_domain<R: Resolver + ?Sized>(
        &self,
        resolver: &R,
        cache: &mut LookupCache,
        d: DomainDiscovery,
        spf: Option<&SpfAuth>,
        dkim: &[DkimAuth],
    ) -> Evaluation {
        let mode = self.config.mode;
        let mut e = Evaluation {
            author_domain: d.author.clone(),
            result: d.early.unwrap_or(DmarcResult::Fail),
            org_domain: d.org_domain.clone(),
            discovery: match mode {
                Mode::Rfc9989 => DiscoveryMethod::TreeWalk,
                Mode::Rfc7489 => DiscoveryMethod::Psl,
            },
            policy_domain: d.policy_domain.clone(),
            record_source: d.record_source,
            record: d.record.clone(),
            policy: d.policy,
            policy_source: d.policy_source,
            author_domain_exists: d.exists,
            disposition: Disposition::None,
            sampled_out: false,
            testing: false,
            spf: None,
            dkim: Vec::new(),
            reasons: d.reasons.clone(),
        };
        let (adkim, aspf) = e
            .record
            .as_ref()
            .map_or((AlignmentMode::Relaxed, AlignmentMode::Relaxed), |r| {
                (r.adkim, r.aspf)
            });
        let mut aligner = Aligner {
            mode,
            author: &d.author,
            author_org: d.org_domain.clone(),
            cache,
            report_only_walks: REPORT_ONLY_WALKS,
        };
        let mut unknown_alignment = false;
        let mut aligned_temperror = false;
        if let Some(s) = spf {
            let aligned = aligner.aligned(resolver, &s.domain, aspf, true).await;
            // undecided alignment matters for a pass and for a temporary error alike: either
            // could have made the result pass (RFC 9989 §5.3: never fail on a DNS hiccup)
            unknown_alignment |=
                aligned.is_none() && matches!(s.result, SpfOutcome::Pass | SpfOutcome::TempError);
            let aligned = aligned.unwrap_or(false);
            aligned_temperror |= aligned && s.result == SpfOutcome::TempError;
            e.spf = Some(SpfCheck {
                auth: s.clone(),
                aligned,
                pass: aligned && s.result == SpfOutcome::Pass,
            });
        }
        for sig in dkim {
            // only a pass or a temporary error can change the result; the others' alignment
            // is for reports (RFC 9991 Identity-Alignment) and its DNS walks are capped
            let decides = matches!(sig.result, DkimOutcome::Pass | DkimOutcome::TempError);
            let aligned = aligner.aligned(resolver, &sig.domain, adkim, decides).await;
            unknown_alignment |= aligned.is_none()
                && matches!(sig.result, DkimOutcome::Pass | DkimOutcome::TempError);
            let aligned = aligned.unwrap_or(false);
            aligned_temperror |= aligned && sig.result == DkimOutcome::TempError;
            e.dkim.push(DkimCheck {
                auth: sig.clone(),
                aligned,
                pass: aligned && sig.result == DkimOutcome::Pass,
            });
        }
        e.org_domain = aligner.author_org.take();
        if d.early.is_some() {
            return e;
        }
        if let Some(s) = e.spf.as_ref().filter(|s| s.pass) {
            e.reasons.push(Reason::SpfAligned(s.auth.domain.clone()));
        }
        if let Some(k) = e.dkim.iter().find(|k| k.pass) {
            e.reasons.push(Reason::DkimAligned(k.auth.domain.clone()));
        }
        if e.spf_aligned() || e.dkim_aligned() {
            e.result = DmarcResult::Pass;
            return e;
        }
        if d.existence_unknown {
            e.result = DmarcResult::TempError;
            e.reasons.push(Reason::DnsTempError(d.author.clone()));
            return e;
        }
        if unknown_alignment || aligned_temperror {
            e.result = DmarcResult::TempError;
            e.reasons.push(Reason::UnderlyingTempError);
            return e;
        }
        e.result = DmarcResult::Fail;
        let requested: Disposition = e.policy.map_or(Disposition::None, Disposition::from);
        e.disposition = requested;
        let record = e.record.as_ref();
        match mode {
            Mode::Rfc7489 => {
                // pct limits enacting "p"/"sp" (§6.6.4): with none there is nothing to sample
                let pct = record.map_or(100, |r| r.pct);
                if pct < 100 && requested != Disposition::None && self.sampler.roll() >= pct {
                    e.sampled_out = true;
                    e.disposition = requested.one_lower();
                    e.reasons.push(Reason::SampledOut(pct));
                }
            }
            Mode::Rfc9989 => {
                if record.is_some_and(|r| r.testing) && requested != Disposition::None {
                    e.testing = true;
                    e.disposition = requested.one_lower();
                    e.reasons.push(Reason::TestingMode);
                }
            }
        }
        e
    }
}

/// Orders results of one disposition for the strictest-wins rule: temperror > fail >
/// permerror > none > pass. A domain whose policy could not be decided may ask for anything,
/// so it outranks a fail that disposes of nothing (`p=none`, `t=y`, sampled out): otherwise a
/// second author domain that fails with `p=none` would turn the message's temperror into
/// fail, and an undecided domain's mail would be delivered instead of deferred
/// (RFC 9989 §5.3.6: such a message can neither pass nor fail). A fail with a disposition
/// (quarantine, reject) still wins: it is decided and acted on at once.
fn severity(r: DmarcResult) -> u8 {
    match r {
        DmarcResult::TempError => 4,
        DmarcResult::Fail => 3,
        DmarcResult::PermError => 2,
        DmarcResult::None => 1,
        DmarcResult::Pass => 0,
    }
}

/// RFC 9989 §4.10.1 policy discovery with the tree walk, and the author's organizational
/// domain (§4.10.2).
async fn discover_9989<R: Resolver + ?Sized>(
    resolver: &R,
    cache: &mut LookupCache,
    d: &mut DomainDiscovery,
) {
    let author = d.author.clone();
    match cache.lookup(resolver, &author).await {
        Lookup::TempError => {
            return d.stop(
                DmarcResult::TempError,
                Reason::DnsTempError(format!("_dmarc.{author}")),
            );
        }
        Lookup::Record(record) => {
            // the organizational domain is only needed for relaxed alignment of an identifier
            // that differs from the author domain (RFC 9989 §4.10.2): the aligner walks then
            d.reasons.push(Reason::UsedRecord(
                RecordSource::AuthorDomain,
                format!("_dmarc.{author}"),
            ));
            d.policy_domain = Some(author);
            d.record_source = Some(RecordSource::AuthorDomain);
            d.record = Some(*record);
            return;
        }
        Lookup::Multiple => d
            .reasons
            .push(Reason::MultipleRecords(format!("_dmarc.{author}"))),
        Lookup::None => {}
    }
    let targets = walk_targets(&author);
    let rest = targets.get(1..).unwrap_or_default();
    let walk = match tree_walk(resolver, cache, rest).await {
        Ok(w) => w,
        Err(name) => return d.stop(DmarcResult::TempError, Reason::DnsTempError(name)),
    };
    d.reasons
        .extend(walk.multiple.iter().cloned().map(Reason::MultipleRecords));
    let org = select_org_domain(&author, &walk.found);
    d.org_domain = Some(org.clone());
    let chosen = walk
        .found
        .iter()
        .find(|(dom, _)| *dom == org)
        .map(|(dom, r)| (dom.clone(), r.clone(), RecordSource::OrganizationalDomain))
        .or_else(|| {
            walk.found
                .iter()
                .find(|(_, r)| r.psd == Psd::Yes)
                .map(|(dom, r)| (dom.clone(), r.clone(), RecordSource::PublicSuffixDomain))
        });
    match chosen {
        Some((dom, record, source)) => {
            d.reasons
                .push(Reason::UsedRecord(source, format!("_dmarc.{dom}")));
            d.policy_domain = Some(dom);
            d.record_source = Some(source);
            d.record = Some(record);
        }
        None => d.stop(DmarcResult::None, Reason::NoRecord),
    }
}

/// RFC 7489 §6.6.3 policy discovery: the author domain, then its PSL organizational domain.
async fn discover_7489<R: Resolver + ?Sized>(
    resolver: &R,
    cache: &mut LookupCache,
    d: &mut DomainDiscovery,
) {
    let author = d.author.clone();
    let org = psl_organizational_domain(&author);
    d.org_domain = Some(org.clone());
    let mut candidates = vec![(author.clone(), RecordSource::AuthorDomain)];
    if org != author {
        candidates.push((org, RecordSource::OrganizationalDomain));
    }
    for (domain, source) in candidates {
        match cache.lookup(resolver, &domain).await {
            Lookup::Record(record) => {
                d.reasons
                    .push(Reason::UsedRecord(source, format!("_dmarc.{domain}")));
                d.policy_domain = Some(domain);
                d.record_source = Some(source);
                d.record = Some(*record);
                return;
            }
            Lookup::Multiple => {
                // step 5: several records end policy discovery
                d.reasons
                    .push(Reason::MultipleRecords(format!("_dmarc.{domain}")));
                return d.stop(DmarcResult::None, Reason::NoRecord);
            }
            Lookup::TempError => {
                return d.stop(
                    DmarcResult::TempError,
                    Reason::DnsTempError(format!("_dmarc.{domain}")),
                );
            }
            Lookup::None => {}
        }
    }
    d.stop(DmarcResult::None, Reason::NoRecord);
}

/// Identifier alignment for one author domain (RFC 9989 §4.4, §4.10.2; RFC 7489 §3.1).
/// How many tree walks (RFC 9989 §4.10.2) a message may cost for identifiers whose result
/// cannot change the DMARC result (a DKIM fail or permerror): their alignment only feeds
/// failure reports. Without a cap, a message with thousands of failing signatures whose `d=`
/// names sit under the author's domain would send up to eight `_dmarc` queries for each, to
/// the author domain's name servers. Passing and temporarily failing signatures are bounded
/// by the DKIM verification budget instead.
const REPORT_ONLY_WALKS: usize = 8;

struct Aligner<'a> {
    mode: Mode,
    author: &'a str,
    /// Found by policy discovery, or by the first walk that needs it.
    author_org: Option<String>,
    cache: &'a mut LookupCache,
    /// Walks left for identifiers that do not decide the result ([`REPORT_ONLY_WALKS`]).
    report_only_walks: usize,
}

impl Aligner<'_> {
    /// `Some(aligned)`, or `None` when a temporary DNS failure left it undecided, or when the
    /// identifier cannot change the result (`decides` false) and the walks for such
    /// identifiers are used up.
    async fn aligned<R: Resolver + ?Sized>(
        &mut self,
        resolver: &R,
        identifier: &str,
        mode: AlignmentMode,
        decides: bool,
    ) -> Option<bool> {
        let id = normalize_identifier(identifier);
        if id.is_empty() {
            return Some(false);
        }
        if id == self.author {
            return Some(true);
        }
        if mode == AlignmentMode::Strict {
            return Some(false);
        }
        match self.mode {
            Mode::Rfc7489 => {
                Some(psl_organizational_domain(&id) == psl_organizational_domain(self.author))
            }
            Mode::Rfc9989 => {
                let author_org = match &self.author_org {
                    Some(o) => o.clone(),
                    None => {
                        let o = tree_walk_org_domain(resolver, self.cache, self.author)
                            .await
                            .ok()?;
                        self.author_org = Some(o.clone());
                        o
                    }
                };
                // the identifier's organizational domain is a suffix of it: no walk needed
                // when the author's is not
                if !is_subdomain_or_same(&id, &author_org) {
                    return Some(false);
                }
                if !decides {
                    self.report_only_walks = self.report_only_walks.checked_sub(1)?;
                }
                let id_org = tree_walk_org_domain(resolver, self.cache, &id).await.ok()?;
                Some(id_org == author_org)
            }
        }
    }
}
