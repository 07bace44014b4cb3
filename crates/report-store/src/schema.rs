//! The schema, one versioned whole for both backends, and its migrations.
//!
//! Each migration is a list of statements written once; `{id}` becomes the backend's
//! auto-increment primary key and `{blob}` its byte-string type. Everything else is plain SQL
//! both SQLite and PostgreSQL accept: `BIGINT` for every number (Unix seconds, counts, flags
//! as 0/1), `TEXT` for text, JSON kept as `TEXT`. `schema_version` holds one row per applied
//! migration. A migration runs in one transaction with the version row it adds, so a crash
//! leaves the schema either before or after it; on PostgreSQL an advisory transaction lock
//! keeps two nodes starting at once from running the same migration twice.

/// A schema migration.
pub struct Migration {
    /// The version it brings the schema to (1, 2, …).
    pub version: i64,
    /// What it does, for `schema_version.description`.
    pub description: &'static str,
    /// Its statements, in order.
    pub statements: &'static [&'static str],
}

/// The table of applied migrations (created before anything else).
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version BIGINT NOT NULL PRIMARY KEY,
    applied_at BIGINT NOT NULL,
    description TEXT NOT NULL
)";

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "observations, report jobs and sends, failure report queue, received reports",
        statements: &[
            // What we record: one row per distinct observation (the reports crate's Observation
            // as JSON, its time set to 0) per policy domain and period, with the number of
            // messages it stands for. `wants_report` is 1 when the policy record has rua=.
            "CREATE TABLE observations (
            id {id},
            policy_domain TEXT NOT NULL,
            period_begin BIGINT NOT NULL,
            fingerprint TEXT NOT NULL,
            wants_report BIGINT NOT NULL,
            header_from TEXT NOT NULL,
            source_ip TEXT NOT NULL,
            result TEXT NOT NULL,
            disposition TEXT NOT NULL,
            data TEXT NOT NULL,
            count BIGINT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            UNIQUE (policy_domain, period_begin, fingerprint)
        )",
            "CREATE INDEX observations_period ON observations (period_begin, wants_report)",
            // One aggregate report per (policy domain, period): claimed by one sender at a time
            // (claimed_by + lease_until), `open` until every destination is settled, then `done`.
            "CREATE TABLE report_jobs (
            policy_domain TEXT NOT NULL,
            period_begin BIGINT NOT NULL,
            period_end BIGINT NOT NULL,
            state TEXT NOT NULL,
            report_id TEXT,
            messages BIGINT,
            claimed_by TEXT,
            lease_until BIGINT NOT NULL,
            attempts BIGINT NOT NULL,
            last_error TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (policy_domain, period_begin)
        )",
            // One row per destination of a report: pending -> sending -> sent, or skipped,
            // failed, uncertain (the sender died between submitting and recording the outcome).
            "CREATE TABLE report_sends (
            policy_domain TEXT NOT NULL,
            period_begin BIGINT NOT NULL,
            destination TEXT NOT NULL,
            uri TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt BIGINT NOT NULL,
            last_error TEXT,
            report_id TEXT,
            message_id TEXT,
            size BIGINT,
            node TEXT,
            updated_at BIGINT NOT NULL,
            sent_at BIGINT,
            PRIMARY KEY (policy_domain, period_begin, destination)
        )",
            "CREATE INDEX report_sends_rate ON report_sends (destination, sent_at)",
            // Failure reports (RFC 9991) waiting to be sent, and the record of those sent (the
            // message itself is dropped once it is settled).
            "CREATE TABLE failure_reports (
            id {id},
            created_at BIGINT NOT NULL,
            policy_domain TEXT NOT NULL,
            destination TEXT NOT NULL,
            uri TEXT NOT NULL,
            kind TEXT NOT NULL,
            message {blob},
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            next_attempt BIGINT NOT NULL,
            claimed_until BIGINT NOT NULL,
            last_error TEXT,
            message_id TEXT,
            node TEXT,
            updated_at BIGINT NOT NULL,
            sent_at BIGINT
        )",
            "CREATE INDEX failure_reports_domain ON failure_reports (policy_domain, created_at)",
            "CREATE INDEX failure_reports_destination ON failure_reports (destination, created_at)",
            "CREATE INDEX failure_reports_state ON failure_reports (state, next_attempt)",
            // Aggregate reports other receivers send us (issue "DMARC reports in"): one row per
            // report, unique by (org_name, report_id) so a report imported twice is kept once.
            "CREATE TABLE received_reports (
            id {id},
            org_name TEXT NOT NULL,
            report_id TEXT NOT NULL,
            email TEXT NOT NULL,
            extra_contact_info TEXT,
            policy_domain TEXT NOT NULL,
            begin_time BIGINT NOT NULL,
            end_time BIGINT NOT NULL,
            policy_published TEXT NOT NULL,
            errors TEXT NOT NULL,
            generator TEXT,
            version TEXT,
            message_count BIGINT NOT NULL,
            source TEXT,
            received_at BIGINT NOT NULL,
            UNIQUE (org_name, report_id)
        )",
            "CREATE INDEX received_reports_domain ON received_reports (policy_domain, begin_time)",
            // Their rows (RFC 9990 §3.1.1.7 `record`); auth results and reasons as JSON.
            "CREATE TABLE received_records (
            id {id},
            report_id BIGINT NOT NULL REFERENCES received_reports (id) ON DELETE CASCADE,
            source_ip TEXT NOT NULL,
            count BIGINT NOT NULL,
            disposition TEXT NOT NULL,
            dkim_aligned TEXT NOT NULL,
            spf_aligned TEXT NOT NULL,
            header_from TEXT NOT NULL,
            envelope_from TEXT,
            envelope_to TEXT,
            reasons TEXT NOT NULL,
            auth_results TEXT NOT NULL
        )",
            "CREATE INDEX received_records_report ON received_records (report_id)",
            "CREATE INDEX received_records_source ON received_records (source_ip)",
        ],
    },
    Migration {
        version: 2,
        description: "received reports: dashboard columns, daily and DKIM selector rollups, source names",
        statements: &[
            // Each record carries its report's policy domain, UTC day and reporter, and its
            // results as 0/1 flags, so the per-domain queries (docs/dashboard.md) read one
            // covering index and never join or parse JSON: DMARC pass (an aligned DKIM or SPF
            // pass, RFC 9989 §4.4), and SPF / DKIM passing at all, aligned or not.
            "ALTER TABLE received_records ADD COLUMN policy_domain TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE received_records ADD COLUMN day BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE received_records ADD COLUMN org_name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE received_records ADD COLUMN dmarc_pass BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE received_records ADD COLUMN spf_pass BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE received_records ADD COLUMN dkim_pass BIGINT NOT NULL DEFAULT 0",
            // rows stored by version 1: filled from their report and their JSON (written by
            // serde with `dkim` before `spf`, so a `"result":"pass"` before `"spf":[` is DKIM's;
            // JSON escapes the quotes of any string, so a value cannot fake the pattern)
            "UPDATE received_records SET
            policy_domain = COALESCE((SELECT r.policy_domain FROM received_reports r
                WHERE r.id = received_records.report_id), ''),
            day = COALESCE((SELECT r.begin_time - r.begin_time % 86400 FROM received_reports r
                WHERE r.id = received_records.report_id), 0),
            org_name = COALESCE((SELECT r.org_name FROM received_reports r
                WHERE r.id = received_records.report_id), ''),
            dmarc_pass = CASE WHEN dkim_aligned = 'pass' OR spf_aligned = 'pass'
                THEN 1 ELSE 0 END,
            spf_pass = CASE WHEN auth_results LIKE '%\"spf\":[%\"result\":\"pass\"%'
                THEN 1 ELSE 0 END,
            dkim_pass = CASE WHEN auth_results LIKE '{\"dkim\":[%\"result\":\"pass\"%\"spf\":[%'
                THEN 1 ELSE 0 END",
            // covers the sources query of the domain page: no table row is read, and the
            // records come in source order, so grouping them needs no sort (the day range is
            // checked in the index; retention bounds a domain's records); the reporters of
            // the listed sources are found by (domain, address)
            "CREATE INDEX received_records_domain_source ON received_records (policy_domain,
            source_ip, day, org_name, count, dmarc_pass, spf_aligned, dkim_aligned, spf_pass,
            dkim_pass)",
            // Messages per policy domain, day, DMARC result and disposition (the chart and the
            // domain list), kept up to date as reports are stored.
            "CREATE TABLE received_daily (
            policy_domain TEXT NOT NULL,
            day BIGINT NOT NULL,
            dmarc_pass BIGINT NOT NULL,
            disposition TEXT NOT NULL,
            messages BIGINT NOT NULL,
            records BIGINT NOT NULL,
            PRIMARY KEY (policy_domain, day, dmarc_pass, disposition)
        )",
            "INSERT INTO received_daily (policy_domain, day, dmarc_pass, disposition, messages,
            records)
         SELECT policy_domain, day, dmarc_pass, disposition, SUM(count), COUNT(*)
         FROM received_records GROUP BY policy_domain, day, dmarc_pass, disposition",
            // Messages per policy domain, day and DKIM signature (d=, s=, result): the selectors
            // seen. Reports stored by version 1 are not in it (their results are JSON; nothing
            // stored received reports before version 2 outside tests).
            "CREATE TABLE received_selectors (
            policy_domain TEXT NOT NULL,
            day BIGINT NOT NULL,
            domain TEXT NOT NULL,
            selector TEXT NOT NULL,
            result TEXT NOT NULL,
            messages BIGINT NOT NULL,
            PRIMARY KEY (policy_domain, day, domain, selector, result)
        )",
            // Reverse DNS names of the sources in received reports, looked up when a report is
            // stored (none: no PTR, or the lookup failed).
            "CREATE TABLE source_names (
            ip TEXT NOT NULL PRIMARY KEY,
            name TEXT,
            looked_up_at BIGINT NOT NULL
        )",
            // the outbound view (what we record for others) by period
            "CREATE INDEX observations_domain ON observations (period_begin, policy_domain, result)",
        ],
    },
    Migration {
        version: 3,
        description: "received reports: a digest of the contents, for same-ID reports",
        statements: &[
            // hex SHA-256 of the parsed report: the same (org_name, report_id) with other
            // contents is stored beside the first (RFC 9990 §3.5.1, §3.5.4); NULL for rows
            // stored before, which then match by policy domain
            "ALTER TABLE received_reports ADD COLUMN digest TEXT",
        ],
    },
    Migration {
        version: 4,
        description: "received reports: who sent each (its message's From domain and DMARC result), and whether it counts",
        statements: &[
            // RFC 9990 §3.5.2, §8.2: a report's org_name is the sender's text; what vouches
            // for it is the DMARC result of the message that carried it (provenance.rs):
            // the From domain (NULL when unreadable) and the result name, 'imported' for
            // `report import`; both NULL for rows stored before (unknown)
            "ALTER TABLE received_reports ADD COLUMN sender_domain TEXT",
            "ALTER TABLE received_reports ADD COLUMN sender_dmarc TEXT",
            // whether the report counts in the totals, pass rates, days, sources and
            // "policy as last reported" (RFC 9990 §8.2: an unverified report is shown apart):
            // 1 for a verified, imported or unknown sender (all rows stored before), 0
            // otherwise; the rollups (received_daily, received_selectors) hold only counted
            // reports, and the records repeat the flag for the sources query's index
            "ALTER TABLE received_reports ADD COLUMN counted BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE received_records ADD COLUMN counted BIGINT NOT NULL DEFAULT 1",
            "DROP INDEX received_records_domain_source",
            "CREATE INDEX received_records_domain_source ON received_records (policy_domain,
            source_ip, day, counted, org_name, count, dmarc_pass, spf_aligned, dkim_aligned,
            spf_pass, dkim_pass)",
        ],
    },
];

/// The newest schema version this program knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
