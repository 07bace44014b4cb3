//! The open-file limit `[server] max_connections` needs (getrlimit(2) `RLIMIT_NOFILE`): every
//! milter connection is a descriptor, besides the listeners, the DNS sockets in flight, the
//! report store and the log. systemd starts services with a soft limit of 1024 (hard 524288),
//! so `max_connections = 2000` would fail at accept with "Too many open files" long before its
//! number. `serve` (and `config check`, which runs the same checks) raises the soft limit as far
//! as needed and the hard limit allows, and warns when even the hard limit is short.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Descriptors kept besides the milter connections: listeners, DNS sockets, store, log.
pub const RESERVED: u64 = 256;

/// What [`raise_for`] found and did (getrlimit(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdLimit {
    /// The soft limit was high enough already.
    Enough,
    /// The soft limit was raised from `from` to `to`.
    Raised {
        /// The soft limit before.
        from: u64,
        /// The soft limit now.
        to: u64,
    },
    /// Even the hard limit is below `need`; the soft limit is now `soft` (the hard limit).
    Short {
        /// The soft limit now.
        soft: u64,
        /// The descriptors `max_connections` needs.
        need: u64,
    },
}

/// The soft limit `max_connections` needs: one descriptor each plus [`RESERVED`].
pub fn needed(max_connections: usize) -> u64 {
    u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED)
}

/// The soft limit to set for `need` descriptors, given the current `soft` and `hard` limits.
pub fn plan(soft: u64, hard: u64, need: u64) -> FdLimit {
    if soft >= need {
        FdLimit::Enough
    } else if hard >= need {
        FdLimit::Raised {
            from: soft,
            to: need,
        }
    } else {
        FdLimit::Short {
            soft: hard.max(soft),
            need,
        }
    }
}

/// Raises this process's soft open-file limit towards what `max_connections` needs (never
/// above the hard limit, never lowering it) and says what it found.
pub fn raise_for(max_connections: usize) -> nix::Result<FdLimit> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let outcome = plan(soft, hard, needed(max_connections));
    let target = match outcome {
        FdLimit::Enough => return Ok(outcome),
        FdLimit::Raised { to, .. } => to,
        FdLimit::Short { soft: to, .. } => to,
    };
    if target > soft {
        setrlimit(Resource::RLIMIT_NOFILE, target, hard)?;
    }
    Ok(outcome)
}

/// Raises the limit for `max_connections` and logs what a postmaster needs to know.
pub fn raise_and_report(max_connections: usize) {
    match raise_for(max_connections) {
        Ok(FdLimit::Enough) => {}
        Ok(FdLimit::Raised { from, to }) => tracing::info!(
            from,
            to,
            "raised the open-file limit (RLIMIT_NOFILE) for server.max_connections"
        ),
        Ok(FdLimit::Short { soft, need }) => tracing::warn!(
            limit = soft,
            need,
            max_connections,
            "the open-file limit is below server.max_connections + {RESERVED}: connections beyond it fail at accept ('accept failed'); raise LimitNOFILE= in the service unit (or ulimit -n) or lower max_connections"
        ),
        Err(e) => tracing::warn!("cannot read or raise the open-file limit: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_only_as_far_as_needed_and_allowed() {
        assert_eq!(needed(512), 768);
        assert_eq!(plan(1024, 524_288, 768), FdLimit::Enough);
        assert_eq!(
            plan(1024, 524_288, 2_256),
            FdLimit::Raised {
                from: 1024,
                to: 2_256
            }
        );
        assert_eq!(
            plan(1024, 1024, 2_256),
            FdLimit::Short {
                soft: 1024,
                need: 2_256
            }
        );
        assert_eq!(
            plan(100, 1024, 2_256),
            FdLimit::Short {
                soft: 1024,
                need: 2_256
            }
        );
        assert_eq!(needed(usize::MAX), u64::MAX);
    }
}
