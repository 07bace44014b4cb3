//! The clock of a sending pass (docs/reports.md, "Exactly once"): claims take their time from
//! it, so a lease counts from the moment of its claim (RFC 9990 §3.5: a report is sent once).

/// A pass's clock: the time it started at (the real time, or `report send --now`), advanced
/// by the time the pass has run. Each claim takes its time from it, so a lease
/// (`claim_timeout`) counts from the moment of its claim, not from the start of a pass that
/// may have spent minutes on a slow relay before it (RFC 9990 §3.5 sends once; an expired
/// lease lets another node call our send `uncertain`).
#[derive(Debug, Clone, Copy)]
pub struct PassClock {
    start: u64,
    started: std::time::Instant,
}

impl PassClock {
    /// A clock that reads `now` at this instant.
    pub fn starting_at(now: u64) -> Self {
        Self {
            start: now,
            started: std::time::Instant::now(),
        }
    }

    /// A clock that read `start` `ago` before this instant (tests: a long pass without waiting).
    #[cfg(test)]
    pub fn started_ago(start: u64, ago: std::time::Duration) -> Self {
        let now = std::time::Instant::now();
        Self {
            start,
            started: now.checked_sub(ago).unwrap_or(now),
        }
    }

    /// The pass's start time (periods due, rate windows: one view for the whole pass).
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The time now on this clock (claims).
    pub fn now(&self) -> u64 {
        self.start.saturating_add(self.started.elapsed().as_secs())
    }
}
