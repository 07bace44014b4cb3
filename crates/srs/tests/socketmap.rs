//! The socketmap codec and request handler beyond postsrsd's own cases.

use srs::socketmap::{Decoder, HandlerOptions, Reply, Request, encode, handle_request};
use srs::{Clock, DomainSet, Srs, SrsConfig, SrsError, load_secrets};

fn srs(always_rewrite: bool) -> Srs {
    let mut c = SrsConfig::new(load_secrets("tops3cr3t").unwrap(), "example.com");
    c.clock = Clock::fixed_unix(1_577_836_860);
    c.always_rewrite = always_rewrite;
    Srs::new(c).unwrap()
}

fn ask(srs: &Srs, request: &[u8]) -> String {
    let domains: DomainSet = ["example.com", ".lists.example.org"].into_iter().collect();
    let reply = handle_request(
        srs,
        &|d| domains.contains(d),
        &HandlerOptions::default(),
        request,
    );
    String::from_utf8_lossy(&reply.to_payload()).into_owned()
}

#[test]
fn handler_edge_cases() {
    let s = srs(false);
    assert_eq!(ask(&s, b""), "PERM Invalid query.");
    assert_eq!(ask(&s, b"   "), "PERM Invalid query.");
    assert_eq!(ask(&s, b"forward"), "NOTFOUND No domain.");
    assert_eq!(
        ask(&s, b"  forward test@otherdomain.com"),
        "OK SRS0=vmyz=2W=otherdomain.com=test@example.com"
    );
    assert_eq!(
        ask(&s, b"FORWARD test@otherdomain.com"),
        "PERM Invalid map."
    );
    assert_eq!(
        ask(&s, b"forward x@a.lists.example.org"),
        "NOTFOUND Need not rewrite local domain."
    );
    assert_eq!(
        ask(&s, b"forward x@lists.example.org"),
        "OK SRS0=gHg2=2W=lists.example.org=x@example.com"
    );
    assert_eq!(
        ask(&s, b"forward x@EXAMPLE.COM"),
        "NOTFOUND Need not rewrite local domain."
    );
    assert_eq!(ask(&s, b"reverse"), "NOTFOUND Not an SRS address.");
    assert_eq!(
        ask(&s, b"reverse SRS1=abcd@example.com"),
        "NOTFOUND No host in SRS1 address."
    );
    assert_eq!(
        ask(&s, b"forward SRS1=X@other.example"),
        "NOTFOUND No host in SRS1 address."
    );
    // A bare tag is a mailbox name, not a malformed SRS address (postsrsd 2.4 answers
    // `PERM No host in SRS1 address.` here, which makes Postfix defer the mail).
    for local in ["srs1", "SRS0"] {
        let out = ask(&s, format!("forward {local}@other.example").as_bytes());
        assert!(
            out.starts_with("OK SRS0=")
                && out.ends_with(&format!("=other.example={local}@example.com")),
            "{out}"
        );
        let back = ask(
            &s,
            format!("reverse {}", out.trim_start_matches("OK ")).as_bytes(),
        );
        assert_eq!(back, format!("OK {local}@other.example"));
        assert_eq!(
            ask(&s, format!("reverse {local}@example.com").as_bytes()),
            "NOTFOUND Not an SRS address."
        );
    }
    // The C code stops at a NUL byte.
    assert_eq!(
        ask(&s, b"forward test@otherdomain.com\0junk"),
        "OK SRS0=vmyz=2W=otherdomain.com=test@example.com"
    );
    // 8-bit keys pass through.
    let out = ask(&s, b"forward caf\xe9@x.example");
    assert!(
        out.starts_with("OK SRS0=") && out.ends_with("=x.example=caf\u{fffd}@example.com"),
        "{out}"
    );
}

#[test]
fn always_rewrite_skips_the_local_check() {
    let s = srs(true);
    let out = ask(&s, b"forward test@example.com");
    assert!(
        out.starts_with("OK SRS0=") && out.ends_with("=example.com=test@example.com"),
        "{out}"
    );
}

#[test]
fn key_limit_is_configurable() {
    let s = srs(false);
    let key = format!("forward test@{}.net", "a".repeat(100));
    let tight = HandlerOptions { max_key_len: 50 };
    let reply = handle_request(&s, &|_| false, &tight, key.as_bytes());
    assert_eq!(reply, Reply::Perm("Too big.".into()));
    // The limit applies before the map name is looked at.
    let reply = handle_request(
        &s,
        &|_| false,
        &tight,
        format!("nomap {}", "x".repeat(51)).as_bytes(),
    );
    assert_eq!(reply, Reply::Perm("Too big.".into()));
    let loose = HandlerOptions { max_key_len: 200 };
    assert!(matches!(
        handle_request(&s, &|_| false, &loose, key.as_bytes()),
        Reply::Ok(_)
    ));
}

#[test]
fn replies_round_trip() {
    for reply in [
        Reply::Ok(b"a@b".to_vec()),
        Reply::Ok(Vec::new()),
        Reply::NotFound(String::new()),
        Reply::NotFound("Not an SRS address.".into()),
        Reply::Temp("later".into()),
        Reply::Timeout("slow".into()),
        Reply::Perm("Invalid map.".into()),
    ] {
        let mut d = Decoder::new();
        d.feed(&reply.encode());
        let payload = d.decode().unwrap().unwrap();
        assert_eq!(Reply::parse(&payload).unwrap(), reply);
    }
    assert_eq!(Reply::NotFound(String::new()).to_payload(), b"NOTFOUND ");
    assert_eq!(
        Reply::parse(b"NOTFOUND").unwrap(),
        Reply::NotFound(String::new())
    );
    assert_eq!(Reply::parse(b"MAYBE x"), Err(SrsError::SocketmapReply));
    assert_eq!(Reply::invalid_query().encode(), b"19:PERM Invalid query.,");
}

#[test]
fn requests_round_trip() {
    let req = Request {
        name: b"reverse",
        key: b"SRS0=x=y=z=w@example.com",
    };
    let mut d = Decoder::new();
    d.feed(&req.encode());
    let payload = d.decode().unwrap().unwrap();
    assert_eq!(Request::parse(&payload).unwrap(), req);
    assert_eq!(
        Request::parse(b" a  b").unwrap(),
        Request {
            name: b"a",
            key: b" b"
        }
    );
    assert_eq!(Request::parse(b""), Err(SrsError::SocketmapRequest));
}

#[test]
fn a_conversation_over_a_stream() {
    // What a server loop does: feed whatever arrives, answer each complete request.
    let s = srs(false);
    let mut wire = Vec::new();
    for q in [
        "forward test@otherdomain.com",
        "reverse SRS0=XjO9=2V=otherdomain.com=test@example.com",
        "bogus x",
    ] {
        wire.extend(encode(q.as_bytes()));
    }
    let mut decoder = Decoder::new();
    let mut answers = Vec::new();
    for chunk in wire.chunks(7) {
        decoder.feed(chunk);
        while let Some(request) = decoder.decode().unwrap() {
            answers.extend(
                handle_request(
                    &s,
                    &|d| d == "example.com",
                    &HandlerOptions::default(),
                    &request,
                )
                .encode(),
            );
        }
    }
    assert_eq!(
        String::from_utf8(answers).unwrap(),
        "48:OK SRS0=vmyz=2W=otherdomain.com=test@example.com,23:OK test@otherdomain.com,17:PERM Invalid map.,"
    );
    assert_eq!(decoder.buffered(), 0);
}

/// Postfix (3.5 and later) looks canonical maps up with the address in its external form and
/// reads the answer in that form (cleanup_map11_external: MA_FORM_EXTERNAL for key and
/// result): a local part that is no Dot-string comes quoted (RFC 5321 §4.1.2). The key is
/// unquoted before SRS and the answer quoted where it needs to be, so the SRS address is the
/// milter's and Postfix reads it back whole. Unquoted, `forward "john doe"@orig.example` gave
/// `SRS0=HHHH=2W=orig.example="john doe"@example.com`, which Postfix parsed as
/// `SRS0=HHHH=2W=orig.example=@<myorigin>`: the sender was lost and its bounce with it.
#[test]
fn keys_and_answers_are_in_postfix_external_form() {
    let s = srs(false);
    let internal = match s.forward("john doe@orig.example", "example.com").unwrap() {
        srs::Forwarded::Rewritten(a) => a,
        other => panic!("{other:?}"),
    };
    let fwd = ask(&s, b"forward \"john doe\"@orig.example");
    assert_eq!(fwd, format!("OK {}", srs::address::quote(&internal)));
    assert!(
        fwd.ends_with("=orig.example=john doe\"@example.com"),
        "{fwd}"
    );
    let addr = fwd.trim_start_matches("OK ");
    assert_eq!(
        ask(&s, format!("reverse {addr}").as_bytes()),
        "OK \"john doe\"@orig.example"
    );
    // Postfix looks the answer up again (canonical maps are recursive): ours, left alone
    assert_eq!(
        ask(&s, format!("forward {addr}").as_bytes()),
        "NOTFOUND Need not rewrite local domain."
    );
    // an @ and escapes inside the quotes; a Dot-string passes as it is
    let fwd = ask(&s, b"forward \"a@b\\\"c\"@orig.example");
    assert!(
        fwd.starts_with("OK \"SRS0=") && fwd.ends_with("=orig.example=a@b\\\"c\"@example.com"),
        "{fwd}"
    );
    let back = ask(
        &s,
        format!("reverse {}", fwd.trim_start_matches("OK ")).as_bytes(),
    );
    assert_eq!(back, "OK \"a@b\\\"c\"@orig.example");
    let plain = ask(&s, b"forward first.last+tag@orig.example");
    assert!(
        plain.starts_with("OK SRS0=")
            && plain.ends_with("=orig.example=first.last+tag@example.com"),
        "{plain}"
    );
}

/// Our SRS domain written with a trailing dot (RFC 5321 §2.3.5) is our SRS domain, with no
/// [srs] local_domains listing it: not rewritten, as the milter and `authmilter srs forward`
/// decide (they compared without the dot before, so the socketmap rewrote what the milter kept).
#[test]
fn our_srs_domain_with_a_trailing_dot_is_ours() {
    let s = srs(false);
    let nothing_local = |_: &str| false;
    for key in [&b"forward x@example.com"[..], b"forward x@Example.Com."] {
        let reply = handle_request(&s, &nothing_local, &HandlerOptions::default(), key);
        assert_eq!(
            String::from_utf8_lossy(&reply.to_payload()),
            "NOTFOUND Need not rewrite local domain.",
            "{}",
            String::from_utf8_lossy(key)
        );
    }
}

/// Postfix asks `sender_canonical_maps` again with the answer until it stops changing: the
/// SRS address of a long sender (as postsrsd makes it, longer than the key bound) came back
/// as `PERM Too big.`, which defers the message at every retry, and its bounce got the same.
/// Keys at a local domain need no rewriting whatever their length, and an address to reverse
/// may be as much longer than the bound as forwarding makes it.
#[test]
fn the_map_takes_back_every_address_it_makes() {
    let s = srs(false);
    let long = format!("{}@r.example", "y".repeat(490));
    let out = ask(&s, format!("forward {long}").as_bytes());
    let srs_address = out.strip_prefix("OK ").expect("rewritten");
    assert!(
        srs_address.len() > srs::socketmap::POSTSRSD_MAX_KEY_LEN,
        "{out}"
    );
    // asked again with the answer: our SRS domain, however long the key
    assert_eq!(
        ask(&s, format!("forward {srs_address}").as_bytes()),
        "NOTFOUND Need not rewrite local domain."
    );
    let local_long = format!("forward {}@example.com", "z".repeat(600));
    assert_eq!(
        ask(&s, local_long.as_bytes()),
        "NOTFOUND Need not rewrite local domain."
    );
    assert_eq!(
        ask(&s, format!("reverse {srs_address}").as_bytes()),
        format!("OK {long}")
    );
    // a key far past the bound is still refused
    let huge = format!(
        "reverse SRS0=abcd=2W=x.example={}@example.com",
        "q".repeat(900)
    );
    assert_eq!(ask(&s, huge.as_bytes()), "PERM Too big.");
}
