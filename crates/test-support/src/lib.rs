//! Dev only: the one home of the helpers tests share.
//!
//! - [`block_on`]: run a future on a fresh current-thread tokio runtime (timers and I/O on).
//! - [`free_port`], [`BlackHole`]: loopback ports for servers a test starts, and one that never
//!   answers.
//! - [`replay_fuzz_seeds`]: run a `<crate>::fuzzing` harness over `fuzz/seeds/<target>/`, the
//!   stable half of every fuzz target.
//! - [`e2e_enabled`]: the `AUTHMILTER_E2E=1` gate of tests that start real programs. Such tests
//!   are also marked `#[ignore = "needs AUTHMILTER_E2E=1"]`, so a plain `cargo test` lists them
//!   as ignored; `tests/run.sh` sets the variable and passes `--include-ignored`.
//! - [`SuiteTally`]: counts of a run over a vendored suite, printed as computed and pinned.
//! - [`nsd::Nsd`]: an authoritative NSD on loopback serving zones the test writes.
//! - [`dns_server::UdpNameserver`]: a loopback UDP nameserver with answers the test chooses
//!   (timeouts and SERVFAILs included; [`dns_server::Zone`] for a record table), no program.
//! - [`process`]: running, polling and stopping child processes by PID.
//!
//! It depends on no authmilter crate, so any crate can use it in its tests (as a
//! dev-dependency) without a dependency cycle. The fake MTA (milter client) is `testkit`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dns_server;
mod e2e;
mod net;
pub mod nsd;
pub mod postgres;
pub mod process;
mod runtime;
mod seeds;
mod suite;

pub use e2e::e2e_enabled;
pub use net::{BlackHole, free_port, free_udp_tcp_port};
pub use runtime::block_on;
pub use seeds::{fuzz_seeds, replay_fuzz_seeds};
pub use suite::SuiteTally;
