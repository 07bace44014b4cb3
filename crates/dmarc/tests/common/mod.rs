//! Shared helpers for the DMARC integration tests: a case builder over `MemoryResolver`.

#![allow(dead_code)]

use std::sync::Arc;

use dmarc::{
    Config, Disposition, DkimAuth, DkimOutcome, Dmarc, DmarcOutcome, DmarcResult, FixedSampler,
    Mode, MultiFrom, Policy, PolicySource, SpfAuth, SpfOutcome, SpfScope,
};
use dns::memory::{MemoryResolver, RecordType};
use test_support::block_on;

/// An extra assertion on the outcome.
pub type Check = Box<dyn Fn(&DmarcOutcome)>;

/// One table case: inputs, configuration and expectations.
pub struct Case {
    pub name: &'static str,
    pub zone: String,
    pub config: Config,
    pub roll: u8,
    pub from: Vec<Vec<u8>>,
    pub spf: Option<SpfAuth>,
    pub dkim: Vec<DkimAuth>,
    pub result: Option<DmarcResult>,
    pub disposition: Option<Disposition>,
    pub policy: Option<Option<(Policy, PolicySource)>>,
    pub org: Option<String>,
    pub header_from: Option<String>,
    pub max_txt_queries: Option<usize>,
    pub from_problem: bool,
    pub check: Option<Check>,
}

pub fn case(name: &'static str) -> Case {
    Case {
        name,
        zone: String::new(),
        config: Config::default(),
        roll: 0,
        from: Vec::new(),
        spf: None,
        dkim: Vec::new(),
        result: None,
        disposition: None,
        policy: None,
        org: None,
        header_from: None,
        max_txt_queries: None,
        from_problem: false,
        check: None,
    }
}

impl Case {
    pub fn zone(mut self, z: &str) -> Self {
        self.zone.push_str(z);
        self.zone.push('\n');
        self
    }
    pub fn mode(mut self, m: Mode) -> Self {
        self.config.mode = m;
        self
    }
    pub fn rfc7489(self) -> Self {
        self.mode(Mode::Rfc7489)
    }
    pub fn strictest(mut self) -> Self {
        self.config.multi_from = MultiFrom::Strictest;
        self
    }
    pub fn roll(mut self, r: u8) -> Self {
        self.roll = r;
        self
    }
    pub fn from(mut self, f: &str) -> Self {
        self.from.push(f.as_bytes().to_vec());
        self
    }
    pub fn spf(mut self, r: SpfOutcome, d: &str) -> Self {
        self.spf = Some(SpfAuth::new(r, d, SpfScope::MailFrom));
        self
    }
    pub fn spf_helo(mut self, r: SpfOutcome, d: &str) -> Self {
        self.spf = Some(SpfAuth::new(r, d, SpfScope::Helo));
        self
    }
    pub fn dkim(mut self, r: DkimOutcome, d: &str) -> Self {
        self.dkim.push(DkimAuth::new(r, d, "sel"));
        self
    }
    pub fn expect(mut self, r: DmarcResult) -> Self {
        self.result = Some(r);
        self
    }
    pub fn disposition(mut self, d: Disposition) -> Self {
        self.disposition = Some(d);
        self
    }
    pub fn policy(mut self, p: Policy, s: PolicySource) -> Self {
        self.policy = Some(Some((p, s)));
        self
    }
    pub fn no_policy(mut self) -> Self {
        self.policy = Some(None);
        self
    }
    pub fn org(mut self, o: &str) -> Self {
        self.org = Some(o.into());
        self
    }
    pub fn header_from(mut self, h: &str) -> Self {
        self.header_from = Some(h.into());
        self
    }
    pub fn max_txt_queries(mut self, n: usize) -> Self {
        self.max_txt_queries = Some(n);
        self
    }
    pub fn expect_from_problem(mut self) -> Self {
        self.from_problem = true;
        self
    }
    pub fn check(mut self, f: impl Fn(&DmarcOutcome) + 'static) -> Self {
        self.check = Some(Box::new(f));
        self
    }

    /// Evaluates the case and asserts every expectation; panics with the case name.
    pub fn run(&self) -> DmarcOutcome {
        let resolver = MemoryResolver::from_zone(&self.zone)
            .unwrap_or_else(|e| panic!("{}: zone: {e}", self.name));
        let dmarc = Dmarc::new(self.config.clone()).with_sampler(Arc::new(FixedSampler(self.roll)));
        let out = block_on(dmarc.evaluate(&resolver, &self.from, self.spf.as_ref(), &self.dkim));
        let n = self.name;
        if let Some(r) = self.result {
            assert_eq!(out.result, r, "{n}: result ({})", out.reason_text());
        }
        if let Some(d) = self.disposition {
            assert_eq!(out.disposition, d, "{n}: disposition");
        }
        if let Some(p) = self.policy {
            let got = out.primary().and_then(|e| e.policy.zip(e.policy_source));
            assert_eq!(got, p, "{n}: policy");
        }
        if let Some(o) = &self.org {
            assert_eq!(
                out.primary().and_then(|e| e.org_domain.as_deref()),
                Some(o.as_str()),
                "{n}: organizational domain"
            );
        }
        if let Some(h) = &self.header_from {
            assert_eq!(out.header_from(), Some(h.as_str()), "{n}: header.from");
        }
        if let Some(max) = self.max_txt_queries {
            let txt = resolver
                .queries()
                .iter()
                .filter(|(t, _)| *t == RecordType::Txt)
                .count();
            assert!(
                txt <= max,
                "{n}: {txt} TXT queries > {max}: {:?}",
                resolver.queries()
            );
        }
        assert_eq!(
            out.from_problem.is_some(),
            self.from_problem,
            "{n}: from problem {:?}",
            out.from_problem
        );
        if let Some(f) = &self.check {
            f(&out);
        }
        out
    }
}
