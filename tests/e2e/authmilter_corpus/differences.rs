//! Every known difference from authentication_milter on its corpus, with its reason.

// Why authmilter differs, one reason per kind of difference (summarized in
// tests/data/milter-authmilter/SOURCE.md).

/// RFC 8301 §3.1: rsa-sha1 signatures are not valid.
pub(super) const RSA_SHA1: &str = "RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid, so \
     authmilter's default ([dkim] rsa_sha1 = \"reject\") reports dkim=policy; the \
     rsa_sha1=verify run of the case shows that the signature itself verifies (pass, as upstream)";
/// RFC 8601 §2.7.3: no PTR data is permerror.
pub(super) const IPREV_PERMERROR: &str = "RFC 8601 §2.7.3: iprev permerror is 'no PTR data are available for this \
     IP address' (the reverse query is NXDOMAIN here); fail is for reverse and forward answers that \
     disagree or a forward query without an answer. authentication_milter reports fail";
/// LocalIP / TrustedIP: upstream skips SPF, DMARC and iprev for such clients.
pub(super) const LOCAL_TRUSTED: &str = "authentication_milter's LocalIP and TrustedIP handlers skip SPF (and \
     Received-SPF), DMARC and iprev for loopback/private and listed client addresses (reporting \
     x-local-ip / x-trusted-ip); an authmilter verify listener checks every message and reports \
     every method, and [policy] allow_networks (configured here as the equivalent) only keeps \
     such mail from being refused";
/// ip_map rewrites the client address before the checks.
pub(super) const IP_MAP: &str = "authentication_milter's ip_map replaces the client 4.3.2.1 and 5.4.3.0/24 by \
     74.125.82.171 (HELO mail-we0-f171.google.com) before checking; authmilter has no address \
     rewriting and checks the client the MTA reports (the mapped transaction itself is the \
     'Good message' case, which matches)";
/// Null reverse-path: the MAIL FROM identity is postmaster@HELO.
pub(super) const NULL_SENDER: &str = "RFC 7208 §2.4: with a null reverse-path the MAIL FROM identity is \
     postmaster@<HELO>; authmilter reports the domain it checked, smtp.mailfrom=marcbradshaw.net, \
     where authentication_milter writes smtp.mailfrom=\"\"; the result (pass) is the same";
/// `MAIL FROM:<marc@ marcbradshaw.net>`.
pub(super) const SPACE_IN_MAIL_FROM: &str = "MAIL FROM:<marc@ marcbradshaw.net> is not an RFC 5321 §4.1.2 Mailbox \
     (no white space); authmilter checks the reverse-path as the MTA hands it over, and its domain \
     ' marcbradshaw.net' is malformed, so SPF is none (RFC 7208 §4.3); authentication_milter drops \
     the space and gets pass. With SPF none and the DKIM signature broken (the From field was \
     altered), DMARC has no aligned pass: fail instead of pass";
/// `MAIL FROM:<test@goestheweasel.com, test@marcbradshaw.net>`.
pub(super) const TWO_ADDRESS_MAIL_FROM: &str = "MAIL FROM:<test@goestheweasel.com, test@marcbradshaw.net> is not a \
     reverse-path (RFC 5321 §4.1.2: one Mailbox); authmilter's SPF takes the domain after the last \
     '@' (a quoted local-part may hold '@'; RFC 7208 §4.3 only requires that domain to be well \
     formed), marcbradshaw.net, which soft-fails for 123.123.123.123, while authentication_milter \
     cannot parse it, treats the sender as null and checks the HELO name (none). DMARC fails either \
     way (goestheweasel.com is not aligned with either)";
/// hard_reject = 0: upstream quarantines p=reject failures.
pub(super) const NO_HARD_REJECT: &str = "without DMARC hard_reject, authentication_milter applies p=reject as \
     quarantine (override local_policy, X-Disposition-Quarantine); authmilter has no \
     reject-as-quarantine setting, and its equivalent of 'no hard reject', [dmarc] enforce = false, \
     records the result and applies nothing (RFC 7489 §6.7: the action is local policy). The \
     dmarc_reject configuration (hard_reject = 1, enforce = true) rejects like upstream";
/// hosts_to_remove is a suffix list upstream; remove_ids are exact authserv-ids.
pub(super) const SANITIZE: &str = "authentication_milter removes every incoming A-R whose authserv-id ends in an \
     entry of hosts_to_remove (so sub.example.com for example.com) or lies under the parent \
     domain of its own host name test.module (test.module, module); authmilter removes the A-R \
     fields of its own authserv-id and of the exact ids in [authres] remove_ids (RFC 8601 §5 leaves \
     which ids are the ADMD's own to the operator, who lists them all), so sub.example.com, module \
     and, under another authserv-id, test.module stay";
/// Several From domains: one decisive dmarc result.
pub(super) const MULTI_FROM: &str = "with several author domains authmilter ([dmarc] multiple_from = \
     \"strictest\") evaluates each and reports the one that decides, the strictest outcome, as \
     the message's single dmarc result (RFC 7489 §6.6.1, RFC 9989 §5.3.1 and §11.5); \
     authentication_milter adds one dmarc result per author domain. The decisive one \
     (goestheweasel.com: fail, p=reject) matches";
/// dkim:<domain> DMARC allow-list entries.
pub(super) const DKIM_WHITELIST: &str = "the DMARC whitelist entry dkim:marcbradshaw.net (no DMARC action when a \
     signature of that domain verifies) is [policy] allow_domains = [\"marcbradshaw.net\"], which \
     exempts mail authenticated by that domain; the only marcbradshaw.net signature is rsa-sha1, \
     which RFC 8301 §3.1 says must not verify (dkim=policy), so nothing authenticates the domain \
     and p=reject applies. With rsa_sha1 = \"verify\" the signature verifies and the message is \
     accepted, as upstream. The methods are compared from the same run with enforce = false";

pub(super) const TIMEOUT_AR: &str = "when the checks time out and the message is accepted anyway \
     ([policy] on_error = \"accept\"), authmilter still writes its own header, \
     `Authentication-Results: <id>; none (not checked: …)`, so that no forged header can speak \
     for it (issue: our header or no delivery); authentication_milter adds nothing";

/// A documented, deliberate difference between authmilter and the expected output.
pub(super) struct Difference {
    /// Expected file of the case.
    pub(super) case: &'static str,
    /// Run variant ("" for the main run).
    pub(super) variant: &'static str,
    /// What is compared.
    pub(super) key: &'static str,
    /// Upstream's value.
    pub(super) expected: &'static str,
    /// authmilter's value.
    pub(super) ours: &'static str,
    /// Why.
    pub(super) reason: &'static str,
}

pub(super) const fn d(
    case: &'static str,
    variant: &'static str,
    key: &'static str,
    expected: &'static str,
    ours: &'static str,
    reason: &'static str,
) -> Difference {
    Difference {
        case,
        variant,
        key,
        expected,
        ours,
        reason,
    }
}

/// Every difference on this corpus, by case (expected file), run variant and compared value.
#[rustfmt::skip]
pub(super) const DIFFERENCES: &[Difference] = &[
    // Good message local (normal, client 127.0.0.1)
    d("google_apps_good.local.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good.local.eml", "", "iprev", "(absent)", "permerror 127.0.0.1", LOCAL_TRUSTED),
    // Good message dkim case local (normal, client 127.0.0.1)
    d("google_apps_good_case.local.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good_case.local.eml", "", "iprev", "(absent)", "permerror 127.0.0.1", LOCAL_TRUSTED),
    // Good message trusted (normal, client 123.123.12.3)
    d("google_apps_good.trusted.eml", "", "received-spf", "(absent)", "softfail", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "spf", "(absent)", "softfail marcbradshaw.net", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "dmarc", "(absent)", "pass p=none (dmarc header.from=marcbradshaw.net)", LOCAL_TRUSTED),
    d("google_apps_good.trusted.eml", "", "iprev", "(absent)", "permerror 123.123.12.3", LOCAL_TRUSTED),
    // Good message no from (normal, client 74.125.82.171)
    d("google_apps_good_nofrom.eml", "", "spf", "pass \"\"", "pass marcbradshaw.net", NULL_SENDER),
    // Good message ip map (normal, client 4.3.2.1)
    d("google_apps_good_map.eml", "", "received-spf", "pass", "softfail", IP_MAP),
    d("google_apps_good_map.eml", "", "spf", "pass marcbradshaw.net", "softfail marcbradshaw.net", IP_MAP),
    d("google_apps_good_map.eml", "", "iprev", "pass 74.125.82.171", "permerror 4.3.2.1", IP_MAP),
    // Good message ip map cidr (normal, client 5.4.3.2)
    d("google_apps_good_map_cidr.eml", "", "received-spf", "pass", "softfail", IP_MAP),
    d("google_apps_good_map_cidr.eml", "", "spf", "pass marcbradshaw.net", "softfail marcbradshaw.net", IP_MAP),
    d("google_apps_good_map_cidr.eml", "", "iprev", "pass 74.125.82.171", "permerror 5.4.3.2", IP_MAP),
    // SPF Fail (normal, client 123.123.123.123)
    d("google_apps_good_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DKIM Fail Domain Space (normal, client 74.125.82.171)
    d("google_apps_bad_space.eml", "", "received-spf", "pass", "none", SPACE_IN_MAIL_FROM),
    d("google_apps_bad_space.eml", "", "spf", "pass marcbradshaw.net", "none \" marcbradshaw.net\"", SPACE_IN_MAIL_FROM),
    d("google_apps_bad_space.eml", "", "dmarc header.from=marcbradshaw.net", "pass p=none", "fail p=none", SPACE_IN_MAIL_FROM),
    // DKIM/SPF Fail (normal, client 123.123.123.123)
    d("google_apps_bad_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // No DKIM/SPF Fail (normal, client 123.123.123.123)
    d("google_apps_nodkim_spf_fail.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // Sanitize Headers (normal, client 74.125.82.171)
    d("google_apps_good_sanitize.eml", "", "removed A-R", "example.com sub.example.com test.module module", "example.com test.module", SANITIZE),
    // DMARC Reject (normal, client 123.123.123.123)
    d("dmarc_reject.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_reject.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Reject (normal, client 123.123.123.123)
    d("dmarc_reject_case.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_reject_case.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Multi (normal, client 123.123.123.123)
    d("dmarc_multi.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_multi.eml", "", "dmarc header.from=marcbradshaw.net", "fail p=none", "(absent)", MULTI_FROM),
    d("dmarc_multi.eml", "", "dmarc header.from=example.com", "none", "(absent)", MULTI_FROM),
    d("dmarc_multi.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Multi (normal, client 123.123.123.123)
    d("dmarc_multi_2.eml", "", "outcome", "quarantine", "accept", NO_HARD_REJECT),
    d("dmarc_multi_2.eml", "", "received-spf", "none", "softfail", TWO_ADDRESS_MAIL_FROM),
    d("dmarc_multi_2.eml", "", "spf", "none \"\"", "softfail marcbradshaw.net", TWO_ADDRESS_MAIL_FROM),
    d("dmarc_multi_2.eml", "", "dmarc header.from=marcbradshaw.net", "fail p=none", "(absent)", MULTI_FROM),
    d("dmarc_multi_2.eml", "", "dmarc header.from=example.com", "none", "(absent)", MULTI_FROM),
    d("dmarc_multi_2.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DKIM/SPF Fail Hard (dmarc_reject, client 123.123.123.123)
    d("google_apps_bad_spf_fail_hard.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // DMARC Reject Hard Whitelisted (dmarc_reject, client 99.123.123.123)
    d("dmarc_reject_hard_whitelisted.eml", "", "iprev", "fail 99.123.123.123", "permerror 99.123.123.123", IPREV_PERMERROR),
    // DMARC Reject DKIM Whitelisted (dmarc_reject_wl, client 123.123.123.123)
    d("dmarc_reject_wl.eml", "", "outcome", "accept", "reject", DKIM_WHITELIST),
    d("dmarc_reject_wl.eml", "", "dkim header.d=marcbradshaw.net header.b=S/mtomBF", "pass", "policy", RSA_SHA1),
    d("dmarc_reject_wl.eml", "", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    d("dmarc_reject_wl.eml", "rsa_sha1=verify", "iprev", "fail 123.123.123.123", "permerror 123.123.123.123", IPREV_PERMERROR),
    // Timeout without dryrun, accepted (TestTimeout)
    d("google_apps_good.timeout.eml", "", "authentication-results", "none", "added", TIMEOUT_AR),
    // Sanitize Headers authserv_id (hide_none, client 74.125.82.171)
    d("google_apps_good_sanitize_authserv_id.eml", "", "removed A-R", "example.com mx.example.net sub.example.com test.module module", "example.com mx.example.net", SANITIZE),
];
