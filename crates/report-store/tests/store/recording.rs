//! Recording observations: identical ones share a row with a count, days are separate, what
//! is read back builds the report; which periods are due.

use report_store::{Store, StoreLocation};
use reports::Observation;
use reports::vocabulary::DmarcResult;

use crate::{DAY, T0, key, observation, record_fixture};

/// Identical observations share a row with a count; days are separate.
async fn identical_observations_share_a_row(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let stats = record_fixture(&store).await;
    assert_eq!((stats.observations, stats.rows), (16, 5));
    assert_eq!(store.recorded_messages(T0).await.unwrap(), 17);

    let a0 = key("a.example", T0);
    let rows = store.period_observations(&a0).await.unwrap();
    let counts: Vec<u64> = rows.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts.iter().sum::<u64>(), 14, "{counts:?}");
    assert_eq!(rows.len(), 2);
    // the time read back is the last time seen; the rest round-trips exactly
    let (pass_row, n) = rows
        .iter()
        .find(|(o, _)| o.result == DmarcResult::Pass)
        .unwrap();
    assert_eq!((*n, pass_row.time), (11, T0 + 300));
    let mut expected = observation(T0 + 300, "a.example", "192.0.2.1", true, true);
    expected.time = pass_row.time;
    assert_eq!(pass_row, &expected);
    // the report built from the stored rows counts every message
    let refs: Vec<(&Observation, u64)> = rows.iter().map(|(o, n)| (o, *n)).collect();
    let fb = reports::build_feedback_counted(
        "a.example",
        a0.range(),
        &refs,
        &reports::ReporterInfo {
            org_name: "rx.example".into(),
            email: "dmarc@rx.example".into(),
            extra_contact_info: None,
            submitter: "rx.example".into(),
            generator: None,
            include_envelope_to: false,
        },
    )
    .unwrap();
    assert_eq!(fb.message_count(), 14);
}

/// Due: only finished periods with rua, oldest first.
async fn due_periods_are_finished_ones_with_rua(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    record_fixture(&store).await;
    assert!(
        store
            .due_periods(T0 + DAY - 1, T0 + DAY - 1, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store.due_periods(T0 + DAY, T0 + DAY, 100).await.unwrap();
    assert_eq!(due, vec![key("a.example", T0), key("b.example", T0)]);
    assert_eq!(
        store
            .due_periods(T0 + 2 * DAY, T0 + 2 * DAY, 100)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store
            .due_periods(T0 + 2 * DAY, T0 + 2 * DAY, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Anyone who mails us chooses the policy domains recorded, and a job can stay open for
/// long (a destination over `destination_rate` waits for its window; DNS trouble is retried
/// for `max_attempts` passes): jobs waiting for their retry are not due, and jobs never tried
/// come before retried ones, so `limit` open jobs of a hostile sender's domains (sorted
/// first, or of an older day) cannot keep every other report out of every pass.
async fn open_jobs_waiting_for_a_retry_do_not_fill_the_due_list(loc: &StoreLocation) {
    use report_store::{Claim, JobEnd};

    let store = Store::open(loc, T0).await.unwrap();
    record_fixture(&store).await;
    let now = T0 + DAY + 3600;
    let a0 = key("a.example", T0);
    assert!(matches!(
        store.claim_job(&a0, "n1", now, 600).await.unwrap(),
        Claim::Claimed { .. }
    ));
    let retry = JobEnd::Retry {
        error: "rate limited".into(),
        not_before: now + 900,
    };
    assert!(store.finish_job(&a0, "n1", now, retry).await.unwrap());
    // waiting for its retry: not due
    assert_eq!(
        store.due_periods(T0 + DAY, now + 1, 1).await.unwrap(),
        vec![key("b.example", T0)]
    );
    // due again, after the job never tried
    assert_eq!(
        store.due_periods(T0 + DAY, now + 900, 100).await.unwrap(),
        vec![key("b.example", T0), a0]
    );
}

/// Anyone who mails us chooses the policy domains recorded: the outbound view reads at most
/// the domains it shows (most messages first; with their sends and the number in all).
async fn the_outbound_view_reads_a_bounded_number_of_domains(loc: &StoreLocation) {
    use report_store::{NewSend, SendState, Span};
    let store = Store::open(loc, T0).await.unwrap();
    let mut batch = Vec::new();
    for i in 0..12 {
        let domain = format!("d{i:02}.example");
        for n in 0..=i {
            batch.push(observation(T0 + n, &domain, "192.0.2.1", n % 2 == 0, true));
        }
    }
    store.record(&batch).await.unwrap();
    let send = |destination: &str, state| NewSend {
        destination: destination.into(),
        uri: format!("mailto:{destination}"),
        state,
        note: None,
    };
    store
        .add_sends(
            &key("d11.example", T0),
            "rid",
            &[
                send("a@d11.example", SendState::Pending),
                send("b@d11.example", SendState::Skipped),
            ],
            T0 + DAY,
        )
        .await
        .unwrap();
    let (shown, total) = store
        .outbound_summary(Span::last_days(T0, 1), 3)
        .await
        .unwrap();
    assert_eq!(total, 12);
    let got: Vec<(&str, u64, u64, u64, u64)> = shown
        .iter()
        .map(|d| {
            (
                d.policy_domain.as_str(),
                d.messages,
                d.dmarc_pass,
                d.pending,
                d.not_sent,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("d11.example", 12, 6, 1, 1),
            ("d10.example", 11, 6, 0, 0),
            ("d09.example", 10, 5, 0, 0),
        ]
    );
}

/// A report reads a bounded number of rows and bytes (a hostile sender can make every message
/// a row of its own): the rows that stand for the most messages, the rest counted.
async fn a_report_reads_a_bounded_number_of_rows(loc: &StoreLocation) {
    let store = Store::open(loc, T0).await.unwrap();
    let mut batch = Vec::new();
    // 192.0.2.1 ×1, .2 ×4, .3 ×2, .4 ×3: four rows, ten messages
    for (ip, n) in [
        ("192.0.2.1", 1),
        ("192.0.2.2", 4),
        ("192.0.2.3", 2),
        ("192.0.2.4", 3),
    ] {
        for i in 0..n {
            batch.push(observation(T0 + 100 + i, "a.example", ip, true, true));
        }
    }
    store.record(&batch).await.unwrap();
    let a0 = key("a.example", T0);
    let all = store
        .period_observations_limited(&a0, 100, 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        (all.rows.len(), all.omitted_rows, all.omitted_messages),
        (4, 0, 0)
    );
    let two = store
        .period_observations_limited(&a0, 2, 1 << 20)
        .await
        .unwrap();
    let ips: Vec<(String, u64)> = two
        .rows
        .iter()
        .map(|(o, n)| (o.source_ip.to_string(), *n))
        .collect();
    // the two biggest rows, oldest last seen first (the latest policy comes last)
    assert_eq!(
        ips,
        [("192.0.2.4".to_string(), 3), ("192.0.2.2".to_string(), 4)]
    );
    assert_eq!((two.omitted_rows, two.omitted_messages), (2, 3));
    // a byte budget smaller than one row still gives the biggest row
    let one = store
        .period_observations_limited(&a0, 100, 1)
        .await
        .unwrap();
    assert_eq!(one.rows.len(), 1);
    assert_eq!(one.rows[0].1, 4);
    assert_eq!((one.omitted_rows, one.omitted_messages), (3, 6));
}

on_both_backends! {
    a_report_reads_a_bounded_number_of_rows =>
        sqlite_a_report_reads_a_bounded_number_of_rows,
        postgres_a_report_reads_a_bounded_number_of_rows;
    the_outbound_view_reads_a_bounded_number_of_domains =>
        sqlite_the_outbound_view_reads_a_bounded_number_of_domains,
        postgres_the_outbound_view_reads_a_bounded_number_of_domains;
    identical_observations_share_a_row =>
        sqlite_identical_observations_share_a_row,
        postgres_identical_observations_share_a_row;
    due_periods_are_finished_ones_with_rua =>
        sqlite_due_periods_are_finished_ones_with_rua,
        postgres_due_periods_are_finished_ones_with_rua;
    open_jobs_waiting_for_a_retry_do_not_fill_the_due_list =>
        sqlite_open_jobs_waiting_for_a_retry_do_not_fill_the_due_list,
        postgres_open_jobs_waiting_for_a_retry_do_not_fill_the_due_list;
}
