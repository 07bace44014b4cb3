//! Received reports in the store: stored once per (org_name, report_id), and the dashboard's
//! queries (domains, days, sources, selectors, reporters, the outbound view) equal what a
//! plain computation over the parsed reports gives. SQLite always; PostgreSQL with
//! AUTHMILTER_E2E=1. Also the upgrade of a version-1 store with received reports.

use report_store::{Span, Store, StoreLocation};

// The reports crate's sample reports, parsed.
mod samples;
// The dashboard's queries against a plain computation over the samples, on both backends.
mod dashboard_queries;
// A version-1 store's received reports filled in by the upgrade.
mod upgrade;
// What reporters write: huge counts, ends of periods, floods of reporters and domains.
mod untrusted_contents;

pub(crate) const ALL: Span = Span {
    begin: 0,
    end: 4_000_000_000,
};

/// A SQLite store location in `dir`.
pub(crate) fn sqlite_location(dir: &tempfile::TempDir) -> StoreLocation {
    format!("sqlite:{}", dir.path().join("r.db").display())
        .parse()
        .unwrap()
}

/// A fresh SQLite store in a temporary directory (kept while the first value lives).
pub(crate) async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&sqlite_location(&dir), 1).await.unwrap();
    (dir, store)
}
