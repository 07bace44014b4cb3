//! authmilter: one milter for SPF, DKIM, DMARC, iprev, Authentication-Results and SRS.
//!
//! The binary's pieces are exposed as a library so that end-to-end tests, benchmarks and
//! examples can drive them. Protocol and policy logic live in the crates under `crates/`.

#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod forwarding;
#[doc(hidden)]
pub mod fuzzing;
pub mod http_listener;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod quiet_socket;
pub mod reports;
pub mod resolver;
pub mod server;
pub mod services;
pub mod signing;
pub mod systemd;
