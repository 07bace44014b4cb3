//! Dev only: a fake MTA milter client and message helpers for tests and benchmarks.

#![warn(missing_docs)]
