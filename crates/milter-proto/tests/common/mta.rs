// The session-driving helper shared by pitfalls.rs and session_rules.rs.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use milter_proto::{
    Command, ConnectInfo, Envelope, Event, Family, Header, MacroStage, Macros, OptNeg,
    ProtocolError, ReplyOwed, Response, Session, Step, Wants,
};

use super::b;

pub struct Mta {
    pub session: Session,
    pub out: BytesMut,
}

impl Mta {
    pub fn new(wants: Wants, offer: OptNeg) -> Self {
        let mut m = Self {
            session: Session::new(wants),
            out: BytesMut::new(),
        };
        let step = m.cmd(Command::OptNeg(offer));
        let Event::Negotiate { negotiated, .. } = step.event else {
            panic!()
        };
        m.send(&negotiated.reply()).unwrap();
        m.out.clear();
        m
    }

    pub fn postfix() -> Self {
        Self::new(Wants::default(), OptNeg::POSTFIX_V6)
    }

    pub fn cmd(&mut self, c: Command) -> Step {
        self.session.handle(c).unwrap()
    }

    pub fn send(&mut self, r: &Response) -> Result<(), ProtocolError> {
        self.session.send(r, &mut self.out)
    }

    /// Handles `c`, asserts the reply kind, and answers CONTINUE when a final reply is owed.
    pub fn step(&mut self, c: Command, expect: ReplyOwed) -> Step {
        let step = self.cmd(c);
        assert_eq!(step.reply, expect, "{:?}", step.event);
        if expect == ReplyOwed::Final {
            // written to a scratch buffer so `out` only holds what a test sends itself
            self.session
                .send(&Response::Continue, &mut BytesMut::new())
                .unwrap();
        }
        step
    }

    pub fn envelope(&mut self) {
        self.step(connect(), ReplyOwed::Final);
        self.step(Command::Helo(b("mail.example.org")), ReplyOwed::Final);
        self.step(mail("<alice@example.org>"), ReplyOwed::Final);
        self.step(rcpt("<bob@example.net>"), ReplyOwed::Final);
    }
}

pub fn connect() -> Command {
    Command::Connect(ConnectInfo {
        hostname: b("mail.example.org"),
        family: Family::Inet,
        port: 50000,
        address: b("192.0.2.10"),
    })
}

pub fn mail(a: &'static str) -> Command {
    Command::Mail(Envelope::new(b(a), vec![]))
}

pub fn rcpt(a: &'static str) -> Command {
    Command::Rcpt(Envelope::new(b(a), vec![]))
}

pub fn header(n: &'static str, v: &'static str) -> Command {
    Command::Header(Header {
        name: b(n),
        value: b(v),
    })
}

pub fn macros(stage: MacroStage, pairs: &[(&'static str, &'static str)]) -> Command {
    Command::Macro(Macros::new(stage, pairs.iter().copied()).expect("no NUL in test macros"))
}

pub fn eom() -> Command {
    Command::BodyEob(Bytes::new())
}

pub fn add_ar() -> Response {
    Response::InsHeader {
        index: 0,
        name: b("Authentication-Results"),
        value: b("mx.example.net; spf=pass"),
    }
}

pub fn illegal(r: Result<(), ProtocolError>) {
    assert!(
        matches!(r, Err(ProtocolError::IllegalResponse { .. })),
        "{r:?}"
    );
}
