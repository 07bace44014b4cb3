//! End-to-end tests of the authmilter binary and server: one test binary, one module per area.
//!
//! In-process tests run the real server (`authmilter::server::Server`) on loopback with an
//! in-memory resolver and drive it with the fake MTA from `testkit`. Tests marked as needing
//! `AUTHMILTER_E2E=1` start real programs (the authmilter binary, Postfix, NSD, ...) that
//! `tests/run.sh` installs; without the variable they print that they were skipped.

// Shared harness: start the milter in-process, write configs, run the binary.
mod support;

// Milter protocol behaviour through the whole server: negotiation, messages, profiles.
mod protocol;
// Connection and message state across messages, ABORT, HELO again, QUIT_NC.
mod protocol_state;
// Malformed input, abrupt disconnects, limits, timeouts, shutdown.
mod robustness;
// Inbound checks through the milter: SPF, DKIM, DMARC, iprev, Authentication-Results, actions.
mod inbound;
// Authentication-Results of our own upstream hosts: trusted_ids and trusted_clients.
mod upstream_trust;
// FastMail authentication_milter's 33 milter transactions, compared by behaviour.
mod authmilter_corpus;
// Outbound signing through the milter.
mod signing;
// Signing on forward listeners: one pass, and no aligned signature for a stranger's forgery.
mod signing_forward;
// SRS through the milter and the socketmap.
mod srs;
// Hostile mail (Composition Kills classes, DNS faults): eval and the milter decide the same.
mod hostile;
// eval on a file and the milter behind Postfix (testkit's split) decide the same.
mod eval_parity;
// eval and the milter on a seeded stream of random hostile messages, envelopes and configs;
// every offline tool (spf, dkim verify, arc verify, srs forward) against eval on another.
mod eval_random;
// Log lines cannot be forged by mail; JSON logs carry fields.
mod logs;
// ARC through the milter: arc=, the trusted-sealer override, sealing on forward listeners.
mod arc_pipeline;
// The message as Postfix delivers it after our responses: every signature and seal verifies.
mod delivered;
// SIGHUP reloads and the results sink across them.
mod reload;
// SIGHUP opens new listeners, closes removed ones, keeps in-flight messages.
mod rebind;
// The open-file limit serve raises for [server] max_connections.
mod open_files;
// The command-line tools (spf, dkim, eval, srs, config check).
mod cli;
// Real Postfix on loopback (AUTHMILTER_E2E=1).
mod postfix;
// Real Sendmail (Debian's packages unpacked, not installed) on loopback (AUTHMILTER_E2E=1).
mod sendmail;
// `authmilter arc verify|seal`.
mod arc_cli;
// Test code never stops or restarts services it did not start.
mod hygiene;
// What a new user hit (issue 14): the tools agree with the milter and the docs.
mod new_user;
// The docs' configuration examples parse as milter.toml.
mod docs;
// tests/install-deps.sh installs what the test command needs on a fresh Debian 12.
mod install_deps;
// Running as a service: privileges, socket ownership, key permissions, systemd.
mod service;
// Key rotation from the command line and through reloads.
mod rotation;
// Rotations made permanent as `dkim rotate` says: signing rules that name the old key.
mod rotation_rules;
// check-domain: one broken zone per finding, DNS failures, a dead nameserver.
mod check_domain;
// check-domain on odd input: hostile records, wildcard TXT, arguments as typed.
mod check_domain_odd;
// migrate: OpenDKIM / OpenDMARC configurations to milter.toml.
mod migrate;
// Prometheus metrics scraped after known traffic; the endpoint's limits.
mod metrics;
// `authmilter bench` against `authmilter serve` and against misbehaving fake milters.
mod bench;
// DMARC reports: recorded by serve, sent by report send and the schedule; SQLite, and
// PostgreSQL with two nodes (AUTHMILTER_E2E=1).
mod reports;
// DMARC reports in through the milter: captured, stored, delivered or discarded.
mod reports_in;
// `report import` and `report show`: samples, every file kind, bombs, the summary.
mod report_import;
// The dashboard over HTTP: pages over a seeded store, access off loopback.
mod dashboard;
// one client address against the dashboard's connection slots (slowloris)
mod dashboard_slots;
// The dashboard in headless Chromium, offline, with screenshots.
mod dashboard_browser;
