//! Evaluator configuration: processing limits (RFC 7208 §4.6.4), the default explanation
//! (RFC 7208 §6.2), the receiver name for `%{r}` and the clock for `%{t}` (RFC 7208 §7.2).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Processing limits (RFC 7208 §4.6.4). `Default` gives the RFC values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Terms that cause DNS queries (include, a, mx, ptr, exists, redirect, and a first `%{p}`);
    /// exceeding it is `permerror`. RFC 7208: 10.
    pub dns_terms: usize,
    /// Terms whose lookup returned NXDOMAIN or no answers; exceeding it is `permerror`.
    /// RFC 7208 recommends 2.
    pub void_lookups: usize,
    /// Names in one MX answer; more is `permerror`. RFC 7208: 10.
    pub mx_names: usize,
    /// Names of a PTR answer that are validated; the rest are ignored. RFC 7208: 10.
    pub ptr_names: usize,
    /// include/redirect nesting depth; deeper is `permerror` (the term limit already bounds it
    /// when `dns_terms` is at most this).
    pub max_depth: usize,
    /// Wall-clock budget for one evaluation, checked before each DNS query; exceeding it is
    /// `temperror` (RFC 7208 §4.6.4 asks for at least 20 seconds). `None`: no budget.
    pub max_elapsed: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            dns_terms: 10,
            void_lookups: 2,
            mx_names: 10,
            ptr_names: 10,
            max_depth: 16,
            max_elapsed: Some(Duration::from_secs(20)),
        }
    }
}

/// A source of the current time for `%{t}` (RFC 7208 §7.2), replaceable in tests.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock stopped at a fixed time (tests, reproducible evaluations).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_unix(&self) -> u64 {
        self.0
    }
}

/// The explanation used for `fail` when the record has no usable `exp=` (RFC 7208 §6.2).
/// It is an `explain-string`: macros are expanded.
pub const DEFAULT_EXPLANATION: &str = "%{d} does not designate %{c} as a permitted sender";

/// Longest explanation kept; longer ones are cut (RFC 7208 §6.2 allows a limit).
pub const DEFAULT_MAX_EXPLANATION: usize = 512;

/// Evaluator settings. Build with `Config::default()` and the `with_*` methods.
#[derive(Clone)]
pub struct Config {
    /// Processing limits (RFC 7208 §4.6.4).
    pub limits: Limits,
    /// Explanation for `fail` without a usable `exp=` (RFC 7208 §6.2); macros are expanded.
    /// `None`: no explanation.
    pub default_explanation: Option<String>,
    /// This host's name, for `%{r}` (RFC 7208 §7.2); `None` expands to `unknown`.
    pub receiver: Option<String>,
    /// The time source for `%{t}`.
    pub clock: Arc<dyn Clock>,
    /// Explanations are cut to this many bytes.
    pub max_explanation_len: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            default_explanation: Some(DEFAULT_EXPLANATION.to_string()),
            receiver: None,
            clock: Arc::new(SystemClock),
            max_explanation_len: DEFAULT_MAX_EXPLANATION,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("limits", &self.limits)
            .field("default_explanation", &self.default_explanation)
            .field("receiver", &self.receiver)
            .field("clock", &self.clock.now_unix())
            .field("max_explanation_len", &self.max_explanation_len)
            .finish()
    }
}

impl Config {
    /// Replaces the processing limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the receiving host name used for `%{r}`.
    pub fn with_receiver(mut self, receiver: impl Into<String>) -> Self {
        self.receiver = Some(receiver.into());
        self
    }

    /// Sets (or, with `None`, removes) the default explanation.
    pub fn with_default_explanation(mut self, text: Option<String>) -> Self {
        self.default_explanation = text;
        self
    }

    /// Replaces the clock used for `%{t}`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}
