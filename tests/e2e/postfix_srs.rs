//! SRS behind a real Postfix (AUTHMILTER_E2E=1): socketmap mode (alias forwarding and the
//! bounce back) and milter mode.

use super::*;

/// SRS settings shared by both modes; `{dir}` is the work directory.
const SRS_SECRET: &str = "authmilter-e2e-srs-secret-0123456789\n";

fn write_srs_secret(dir: &tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join("srs.secrets");
    std::fs::write(&path, SRS_SECRET).expect("write secrets");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

const SRS_RECORDS: &str = "orig IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n";

fn assert_srs0_of(addr: &str, original: &str, srs_domain: &str) {
    let (local, domain) = original.split_once('@').expect("original has a domain");
    assert!(
        addr.starts_with("SRS0=")
            && addr.ends_with(&format!("@{srs_domain}"))
            && addr.contains(&format!("={domain}={local}@")),
        "not an SRS0 address of {original} at {srs_domain}: {addr:?}"
    );
}

/// Submits a bounce (null sender) to `srs0`, the SRS0 address a message from
/// alice@orig.example left with; it must reach alice. Returns the bounce as delivered.
fn bounce_reaches_alice(stack: &Stack, srs0: &str, tag: &str) -> Delivered {
    let bounce_id = message_id(tag);
    let bounce = compose(
        "MAILER-DAEMON@remote.example",
        srs0,
        "Undelivered Mail Returned to Sender",
        &bounce_id,
        &[],
    );
    let sub = stack.submit("in", "", &[srs0], &bounce);
    assert_accepted(stack, &sub);
    let b = stack.delivered(&bounce_id);
    assert_eq!(
        b.rcpts,
        ["alice@orig.example"],
        "SRS0 recipient not restored"
    );
    b
}

/// Postfix with our socketmap as its canonical maps, as postsrsd documents them (no SRS milter):
/// `list@fwd.example` forwards to `bob@remote.example`.
fn socketmap_stack(name: &'static str) -> Stack {
    let dir = mta::workdir(name);
    write_srs_secret(&dir);
    let main = [
        ("virtual_alias_domains", "fwd.example"),
        ("virtual_alias_maps", "texthash:{config}/virtual"),
        // postsrsd's documented Postfix settings, with our socketmap
        ("sender_canonical_maps", "socketmap:{socketmap}:forward"),
        ("sender_canonical_classes", "envelope_sender"),
        ("recipient_canonical_maps", "socketmap:{socketmap}:reverse"),
        (
            "recipient_canonical_classes",
            "envelope_recipient,header_recipient",
        ),
    ];
    Stack::start_in(
        dir,
        StackSpec {
            name,
            records: SRS_RECORDS.into(),
            milter: MilterSpec {
                listeners: vec![Listener::inet("in", "verify")],
                socketmap: true,
                extra: "[srs]\ndomain = \"fwd.example\"\nsecrets = \"{dir}/srs.secrets\"\n\
                        socketmap = \"{socketmap}\"\nlocal_domains = [\"fwd.example\"]\n"
                    .into(),
            },
            postfix: PostfixSpec {
                services: vec![SmtpService::with_milter("in", "{milter:in}")],
                main: main
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                files: vec![(
                    "virtual".into(),
                    "list@fwd.example bob@remote.example\n".into(),
                )],
            },
        },
    )
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_srs_socketmap_forwards_and_reverses() {
    if !mta::enabled() {
        return;
    }
    let stack = socketmap_stack("srs-map");
    // 1. A message to a local alias that forwards off-site leaves with an SRS0 sender.
    let id = message_id("srs-map");
    let msg = compose(
        "alice@orig.example",
        "list@fwd.example",
        "forward me",
        &id,
        &[],
    );
    let sub = stack.submit("in", "alice@orig.example", &["list@fwd.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    assert_eq!(d.rcpts, ["bob@remote.example"], "alias not expanded");
    assert_srs0_of(&d.mail_from, "alice@orig.example", "fwd.example");
    // 2. A bounce to that SRS0 address reaches the original sender.
    let b = bounce_reaches_alice(&stack, &d.mail_from, "srs-map-bounce");
    assert_eq!(b.mail_from, "", "the bounce keeps its null sender");
    stack.assert_quiet_logs();
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_srs_milter_mode_rewrites_relayed_sender() {
    if !mta::enabled() {
        return;
    }
    let dir = mta::workdir("srs-milter");
    write_srs_secret(&dir);
    let stack = Stack::start_in(
        dir,
        StackSpec {
            name: "srs-milter",
            records: SRS_RECORDS.into(),
            milter: MilterSpec {
                listeners: vec![Listener::inet("in", "verify")],
                socketmap: false,
                extra: "[srs]\nenabled = true\ndomain = \"fwd.example\"\n\
                        secrets = \"{dir}/srs.secrets\"\nlocal_domains = [\"fwd.example\"]\n"
                    .into(),
            },
            postfix: PostfixSpec {
                services: vec![SmtpService::with_milter("in", "{milter:in}")],
                ..PostfixSpec::default()
            },
        },
    );
    // A relayed message (127.0.0.1 is in mynetworks) from a non-local sender to a non-local
    // recipient leaves with an SRS0 envelope sender (milter CHGFROM).
    let id = message_id("srs-milter");
    let msg = compose(
        "alice@orig.example",
        "carol@remote.example",
        "relay me",
        &id,
        &[],
    );
    let sub = stack.submit("in", "alice@orig.example", &["carol@remote.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    assert_eq!(d.rcpts, ["carol@remote.example"]);
    assert_srs0_of(&d.mail_from, "alice@orig.example", "fwd.example");
    // And a bounce to it goes back to the original sender (milter DELRCPT + ADDRCPT).
    bounce_reaches_alice(&stack, &d.mail_from, "srs-milter-bounce");
    stack.assert_quiet_logs();
}

/// Socketmap mode with a quoted local part (RFC 5321 §4.1.2): Postfix 3.5+ asks the map with
/// the address in its external form, `"john doe"@orig.example`, and reads the answer the
/// same way. The socketmap wrote the quotes into the middle of the SRS address
/// (`SRS0=HHHH=TT=orig.example="john doe"@fwd.example`), which Postfix read as
/// `SRS0=HHHH=TT=orig.example=@mx.test.example` and forwarded again as an SRS1 address: the
/// sender was lost and the bounce went nowhere. Now the message leaves as
/// `"SRS0=HHHH=TT=orig.example=john doe"@fwd.example` and its bounce reaches John.
#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn postfix_srs_socketmap_keeps_a_quoted_sender_whole() {
    if !mta::enabled() {
        return;
    }
    let stack = socketmap_stack("srs-mapq");
    let id = message_id("srs-mapq");
    let sender = "\"john doe\"@orig.example";
    let msg = compose(sender, "list@fwd.example", "forward me", &id, &[]);
    let sub = stack.submit("in", sender, &["list@fwd.example"], &msg);
    assert_accepted(&stack, &sub);
    let d = stack.delivered(&id);
    assert!(
        d.mail_from.starts_with("\"SRS0=")
            && d.mail_from
                .ends_with("=orig.example=john doe\"@fwd.example"),
        "the quoted sender did not leave as its SRS0 address: {:?}",
        d.mail_from
    );
    let bounce_id = message_id("srs-mapq-bounce");
    let bounce = compose(
        "MAILER-DAEMON@remote.example",
        &d.mail_from,
        "Undelivered Mail Returned to Sender",
        &bounce_id,
        &[],
    );
    let sub = stack.submit("in", "", &[&d.mail_from], &bounce);
    assert_accepted(&stack, &sub);
    let b = stack.delivered(&bounce_id);
    assert_eq!(b.rcpts, [sender], "SRS0 recipient not restored");
    stack.assert_quiet_logs();
}
