//! Classes about the author domain as the From field writes it: its spellings, the header block,
//! control characters, no author domain, encoded words, comments and quotes.

use super::*;

pub(super) fn from_spelling() -> Vec<Case> {
    let c = |n| case("from-spelling", n);
    vec![
        c("baseline: a spoofed From of a p=reject domain").expect("reject", "fail"),
        c("control: the attacker's own domain passes")
            .headers(&[b"From: x@evil.example"])
            .expect("accept", "pass"),
        c("From with a space before the colon (RFC 5322 obsolete syntax)")
            .headers(&[b"From : ceo@bank.example"])
            .expect("reject", "fail"),
        c("FROM in capitals")
            .headers(&[b"FROM: ceo@bank.example"])
            .expect("reject", "fail"),
        c("from in lower case, no space")
            .headers(&[b"from:ceo@bank.example"])
            .expect("reject", "fail"),
        c("From with a tab before the colon")
            .headers(&[b"From\t: ceo@bank.example"])
            .expect("reject", "fail"),
        c("obsolete From : then a normal From of the attacker")
            .headers(&[b"From : ceo@bank.example", b"From: x@evil.example"])
            .expect("reject", "fail"),
        c("normal From of the attacker then an obsolete From :")
            .headers(&[b"From: x@evil.example", b"From : ceo@bank.example"])
            .expect("reject", "fail"),
        c("two From fields of one domain evaluate that domain")
            .headers(&[b"From: x@evil.example", b"From: y@evil.example"])
            .expect("accept", "pass"),
        c("two From fields refused under multiple_from = reject")
            .dmarc("multiple_from = \"reject\"")
            .headers(&[b"From: x@evil.example", b"From: y@evil.example"])
            .expect("reject", "permerror"),
        c("two mailboxes in one From: the strictest result applies")
            .headers(&[b"From: x@evil.example, ceo@bank.example"])
            .expect("reject", "fail"),
    ]
}

pub(super) fn header_block() -> Vec<Case> {
    let c = |n| case("header-block", n);
    vec![
        c("a header block that starts with whitespace is all body: no From")
            .raw(b" From: ceo@bank.example\r\nFrom: x@evil.example\r\nSubject: s\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("a line that is not a field ends the header block before the From")
            .raw(b"Subject: s\r\ngarbage line\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("a line that is not a field after the real From hides a second From")
            .raw(b"From: ceo@bank.example\r\ngarbage line\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("reject", "fail"),
        c("From : on the very first line is an mbox separator to the MTA, not a From")
            .raw(b"From : ceo@bank.example\r\nFrom: x@evil.example\r\n\r\nbody\r\n")
            .expect("accept", "pass"),
        c("an 8-bit field name ends the header block")
            .raw("Fröm: x@evil.example\r\nFrom: x@evil.example\r\n\r\nbody\r\n".as_bytes())
            .expect("reject", "permerror"),
        c("a From folded onto the next line")
            .headers(&[b"From:\r\n ceo@bank.example"])
            .expect("reject", "fail"),
        c("a second address folded into the attacker's From")
            .headers(&[b"From: x@evil.example\r\n ceo@bank.example"])
            .expect("reject", "permerror"),
    ]
}

pub(super) fn control_characters() -> Vec<Case> {
    let c = |n| case("control-character", n);
    vec![
        c("NUL between two addresses")
            .headers(&[b"From: x@evil.example\0ceo@bank.example"])
            .expect("reject", "permerror"),
        c("NUL at the end of the attacker's address")
            .headers(&[b"From: x@evil.example\0"])
            .expect("reject", "permerror"),
        c("an escape sequence that erases the line on a terminal")
            .headers(&[b"From: x@evil.example\x1b[2K ceo@bank.example"])
            .expect("reject", "permerror"),
        c("a lone CR that some readers take for a line end")
            .headers(&[b"From: x@evil.example\rFrom: ceo@bank.example"])
            .expect("reject", "permerror"),
        c("DEL")
            .headers(&[b"From: x@evil.example\x7f"])
            .expect("reject", "permerror"),
        c("SOH")
            .headers(&[b"From: \x01x@evil.example"])
            .expect("reject", "permerror"),
        c("control: a tab is folding white space, not a control character")
            .headers(&[b"From:\tx@evil.example"])
            .expect("accept", "pass"),
    ]
}

pub(super) fn no_author_domain() -> Vec<Case> {
    let c = |n| case("no-author-domain", n);
    vec![
        c("no From field at all")
            .raw(b"Subject: s\r\n\r\nbody\r\n")
            .expect("reject", "permerror"),
        c("an empty From")
            .headers(&[b"From:"])
            .expect("reject", "permerror"),
        c("From: <>")
            .headers(&[b"From: <>"])
            .expect("reject", "permerror"),
        c("only an encoded word")
            .headers(&[b"From: =?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?="])
            .expect("reject", "permerror"),
        c("only a display name")
            .headers(&[b"From: \"The Bank\""])
            .expect("reject", "permerror"),
        c("an empty group")
            .headers(&[b"From: undisclosed-recipients:;"])
            .expect("reject", "permerror"),
        c("an unterminated comment")
            .headers(&[b"From: x@evil.example (ceo@bank.example"])
            .expect("reject", "permerror"),
        c("an unterminated quoted string")
            .headers(&[b"From: \"ceo@bank.example <x@evil.example>"])
            .expect("reject", "permerror"),
        c("an unterminated angle address")
            .headers(&[b"From: Boss <ceo@bank.example"])
            .expect("reject", "permerror"),
        c("an address as the display name of another address")
            .headers(&[b"From: ceo@bank.example <x@evil.example>"])
            .expect("reject", "permerror"),
        c("text after the angle address")
            .headers(&[b"From: <x@evil.example> ceo@bank.example"])
            .expect("reject", "permerror"),
        c("two angle addresses in one mailbox")
            .headers(&[b"From: <x@evil.example><ceo@bank.example>"])
            .expect("reject", "permerror"),
        c("two @ in one address")
            .headers(&[b"From: x@evil.example@bank.example"])
            .expect("reject", "permerror"),
        c("a domain literal")
            .headers(&[b"From: x@[198.51.100.7]"])
            .expect("reject", "permerror"),
        c("the victim's address as the name of a group holding the attacker's")
            .headers(&[b"From: ceo@bank.example: x@evil.example;"])
            .expect("reject", "permerror"),
        c("the victim's address as a source route before the attacker's")
            .headers(&[b"From: <ceo@bank.example:x@evil.example>"])
            .expect("reject", "permerror"),
        c("the victim's address as the display name of an empty address before the attacker's")
            .headers(&[b"From: \"ceo@bank.example\" <>, x@evil.example"])
            .expect("reject", "permerror"),
        c("the victim's domain, a comment, then the rest of the attacker's domain")
            .headers(&[b"From: ceo@bank.example (Bank).evil.example"])
            .expect("reject", "permerror"),
        c("the victim's domain, a fold, then the rest of the attacker's domain")
            .headers(&[b"From: ceo@bank.example\r\n .evil.example"])
            .expect("reject", "permerror"),
        c("the victim's address as the name of an empty group before the attacker's")
            .headers(&[b"From: \"ceo@bank.example\":;, x@evil.example"])
            .expect("reject", "permerror"),
        c("invalid_from = accept delivers it with dmarc=permerror")
            .dmarc("invalid_from = \"accept\"")
            .headers(&[b"From:"])
            .expect("accept", "permerror"),
        c("invalid_from = quarantine holds it")
            .dmarc("invalid_from = \"quarantine\"")
            .headers(&[b"From: <>"])
            .expect("quarantine", "permerror"),
    ]
}

pub(super) fn encoded_words() -> Vec<Case> {
    let c = |n| case("encoded-word", n);
    vec![
        c("an encoded display name that reads ceo@bank.example evaluates the real address")
            .headers(&[b"From: =?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@evil.example>"])
            .expect("accept", "pass"),
        c("an encoded word as the local part is refused (RFC 2047 section 5)")
            .headers(&[b"From: =?utf-8?q?ceo?=@bank.example"])
            .expect("reject", "permerror"),
        c("an encoded word before a bare address, which readers show as the victim's address")
            .headers(&[b"From: =?utf-8?q?ceo=40bank.example?= x@evil.example"])
            .expect("reject", "permerror"),
        c("an encoded word in a display name that is an address")
            .headers(&[b"From: =?utf-8?q?ceo=40bank.example?= x@evil.example <y@evil.example>"])
            .expect("reject", "permerror"),
        c("a quoted encoded display name before the victim's address")
            .headers(&[b"From: \"=?utf-8?q?x=40evil.example?=\" <ceo@bank.example>"])
            .expect("reject", "fail"),
    ]
}

pub(super) fn comments_and_quotes() -> Vec<Case> {
    let c = |n| case("comment-quote", n);
    vec![
        c("the victim's address in a comment is not the address")
            .headers(&[b"From: x@evil.example (ceo@bank.example)"])
            .expect("accept", "pass"),
        c("the victim's address in a quoted display name is not the address")
            .headers(&[b"From: \"ceo@bank.example\" <x@evil.example>"])
            .expect("accept", "pass"),
        c("the attacker's address in a comment does not hide the victim's")
            .headers(&[b"From: ceo@bank.example (x@evil.example)"])
            .expect("reject", "fail"),
        c("the attacker's address quoted as the display name")
            .headers(&[b"From: \"x@evil.example\" <ceo@bank.example>"])
            .expect("reject", "fail"),
        c("a comment holding a comma and the victim")
            .headers(&[b"From: x@evil.example(,ceo@bank.example)"])
            .expect("accept", "pass"),
        c("a source route through the attacker's domain")
            .headers(&[b"From: <@evil.example:ceo@bank.example>"])
            .expect("reject", "fail"),
        c("a quoted local part that looks like the attacker's address")
            .headers(&[b"From: \"x@evil.example\"@bank.example"])
            .expect("reject", "fail"),
    ]
}
