//! Fuzz harnesses and the pieces every crate's harnesses share. Not part of the API.
//!
//! The cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the stable seed replays
//! (`crates/*/tests/fuzz_seeds.rs`) call the same functions, so a seed exercises exactly what the
//! fuzzer did. A panic in a harness is a finding.
//!
//! - [`zone`]: the [`MemoryResolver`] zone-text parser and the answers it then gives.
//! - [`block_on`]: runs a future that never waits (every resolver here answers at once).
//! - [`ScriptedResolver`]: a [`Resolver`] whose answers the fuzzer chooses, taken in the order
//!   the queries are asked; [`split_script`] cuts a fuzz input into that script and a payload.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use crate::memory::{MemoryResolver, RecordType};
use crate::{DnsError, LookupFuture, Mx, Resolver, normalize_name, reverse_name};

/// How many owner names of a fuzzed zone are queried back (bounds the work per input).
const MAX_QUERIED_NAMES: usize = 64;

/// Drives a future that never waits to completion with a no-op waker: the harnesses' executor.
/// [`MemoryResolver`] (without latency) and [`ScriptedResolver`] answer on the first poll, so a
/// future that stays pending is a bug, reported by a panic.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the future did not complete without waiting");
}

/// `dns_zone`: parses `data` as [`MemoryResolver`] zone text, then asks every type for every
/// owner name it mentions (and the PTR of two addresses). Every answer must keep the
/// [`Resolver`] contract: never an empty success, host names lowercase without a trailing dot.
pub fn zone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let resolver = MemoryResolver::new();
    if let Err(e) = resolver.load_zone(&text) {
        assert!(e.line >= 1 && e.line <= text.lines().count(), "{e}");
    }
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .take(MAX_QUERIED_NAMES)
        .collect();
    for name in names {
        check_answers(&resolver, name);
        if let Ok(ip) = name.parse::<IpAddr>() {
            check_host_names(block_on(resolver.ptr(ip)));
        }
    }
    for ip in [
        IpAddr::from([192, 0, 2, 1]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    ] {
        check_host_names(block_on(resolver.ptr(ip)));
    }
}

/// Asks `resolver` every record type at `name` and checks the contract of each answer.
fn check_answers(resolver: &MemoryResolver, name: &str) {
    if let Ok(txt) = block_on(resolver.txt(name)) {
        assert!(!txt.is_empty(), "empty TXT success for {name:?}");
    }
    if let Ok(a) = block_on(resolver.a(name)) {
        assert!(!a.is_empty(), "empty A success for {name:?}");
    }
    if let Ok(aaaa) = block_on(resolver.aaaa(name)) {
        assert!(!aaaa.is_empty(), "empty AAAA success for {name:?}");
    }
    if let Ok(mx) = block_on(resolver.mx(name)) {
        check_host_names(Ok(mx.into_iter().map(|m| m.exchange).collect()));
    }
}

/// A successful host-name answer is non-empty, each name lowercase without a trailing dot.
fn check_host_names(answer: Result<Vec<String>, DnsError>) {
    if let Ok(names) = answer {
        assert!(!names.is_empty(), "empty host-name success");
        for n in &names {
            assert!(!n.ends_with('.'), "trailing dot: {n:?}");
            assert_eq!(*n, n.to_ascii_lowercase(), "not lowercase");
        }
    }
}

/// Cuts a fuzz input into a resolver script and a payload at the first empty line (`\n\n`).
/// The script is one answer per line (see [`ScriptedResolver`]); without an empty line the whole
/// input is payload and every query gets NXDOMAIN.
pub fn split_script(data: &[u8]) -> (ScriptedResolver, &[u8]) {
    match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => {
            let script = data.get(..at).unwrap_or_default();
            let payload = data.get(at + 2..).unwrap_or_default();
            (ScriptedResolver::new(script), payload)
        }
        None => (ScriptedResolver::new(b""), data),
    }
}

/// A [`Resolver`] that answers each query with the next line of a script, whatever was asked:
/// the fuzzer chooses the answers without having to guess the names the code under test asks
/// for. When the script runs out, every further query gets NXDOMAIN.
///
/// A line is one of the keywords `NXDOMAIN`, `NODATA`, `SERVFAIL`, `TIMEOUT`, `OTHER` (that
/// failure), or record data read as the query's type: TXT records separated by `|`; IPv4 or
/// IPv6 addresses separated by spaces (tokens that do not parse are dropped); MX exchanges or PTR
/// names separated by spaces. Data that leaves no record is NODATA. Names DNS cannot carry are
/// refused with [`DnsError::InvalidName`] before a line is used, as a real resolver does.
#[derive(Debug)]
pub struct ScriptedResolver {
    answers: Vec<Vec<u8>>,
    next: AtomicUsize,
    log: Mutex<Vec<(RecordType, String)>>,
}

impl ScriptedResolver {
    /// A resolver answering with the lines of `script` in turn (a trailing `\r` is dropped).
    pub fn new(script: &[u8]) -> Self {
        let answers = if script.is_empty() {
            Vec::new()
        } else {
            script
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
                .collect()
        };
        ScriptedResolver {
            answers,
            next: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The queries asked so far, in order, as (type, normalised name).
    pub fn queries(&self) -> Vec<(RecordType, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Logs the query and returns the next script line, or the failure it names.
    fn next_line(&self, rtype: RecordType, name: &str) -> Result<&[u8], DnsError> {
        let name = normalize_name(name)?;
        if let Ok(mut log) = self.log.lock() {
            log.push((rtype, name));
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let line = self
            .answers
            .get(index)
            .ok_or(DnsError::NxDomain)?
            .as_slice();
        match line {
            b"NXDOMAIN" => Err(DnsError::NxDomain),
            b"NODATA" => Err(DnsError::NoData),
            b"SERVFAIL" => Err(DnsError::ServFail),
            b"TIMEOUT" => Err(DnsError::Timeout),
            b"OTHER" => Err(DnsError::Other("scripted failure".into())),
            data => Ok(data),
        }
    }

    /// The next answer, its record data turned into records by `parse` (none is NODATA).
    fn answer<'a, T: Send + 'a>(
        &'a self,
        rtype: RecordType,
        name: &str,
        parse: impl FnOnce(&[u8]) -> Vec<T>,
    ) -> LookupFuture<'a, Vec<T>> {
        let result = self.next_line(rtype, name).and_then(|line| {
            let records = parse(line);
            if records.is_empty() {
                Err(DnsError::NoData)
            } else {
                Ok(records)
            }
        });
        Box::pin(std::future::ready(result))
    }
}

/// Space-separated words of a script line, as text.
fn words(line: &[u8]) -> impl Iterator<Item = String> + '_ {
    line.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
}

/// Host names as a resolver returns them: lowercase, without the trailing dot.
fn host_names(line: &[u8]) -> Vec<String> {
    words(line)
        .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

impl Resolver for ScriptedResolver {
    fn txt<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Vec<u8>>> {
        self.answer(RecordType::Txt, name, |line| {
            line.split(|&b| b == b'|').map(<[u8]>::to_vec).collect()
        })
    }
    fn a<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv4Addr>> {
        self.answer(RecordType::A, name, |line| {
            words(line).filter_map(|w| w.parse().ok()).collect()
        })
    }
    fn aaaa<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Ipv6Addr>> {
        self.answer(RecordType::Aaaa, name, |line| {
            words(line).filter_map(|w| w.parse().ok()).collect()
        })
    }
    fn mx<'a>(&'a self, name: &'a str) -> LookupFuture<'a, Vec<Mx>> {
        self.answer(RecordType::Mx, name, |line| {
            host_names(line)
                .into_iter()
                .zip(0u16..)
                .map(|(exchange, preference)| Mx {
                    preference,
                    exchange,
                })
                .collect()
        })
    }
    fn ptr<'a>(&'a self, ip: IpAddr) -> LookupFuture<'a, Vec<String>> {
        self.answer(RecordType::Ptr, &reverse_name(ip), host_names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_answers_in_order_then_nxdomain() {
        let (r, payload) = split_script(b"v=DKIM1; p=|second\nSERVFAIL\n192.0.2.1 junk\n\nrest");
        assert_eq!(payload, b"rest");
        assert_eq!(
            block_on(r.txt("a.example")),
            Ok(vec![b"v=DKIM1; p=".to_vec(), b"second".to_vec()])
        );
        assert_eq!(block_on(r.txt("b.example")), Err(DnsError::ServFail));
        assert_eq!(
            block_on(r.a("c.example")),
            Ok(vec![Ipv4Addr::new(192, 0, 2, 1)])
        );
        assert_eq!(block_on(r.a("d.example")), Err(DnsError::NxDomain));
        assert!(matches!(
            block_on(r.a("bad..name")),
            Err(DnsError::InvalidName(_))
        ));
        assert_eq!(r.queries().len(), 4);
    }

    #[test]
    fn no_empty_line_means_all_payload() {
        let (r, payload) = split_script(b"just payload\n");
        assert_eq!(payload, b"just payload\n");
        assert_eq!(block_on(r.txt("x.example")), Err(DnsError::NxDomain));
    }

    #[test]
    fn host_names_are_normalised_and_empty_data_is_nodata() {
        let (r, _) = split_script(b"Mail.Example. other\n \n\n");
        assert_eq!(
            block_on(r.ptr(IpAddr::from([192, 0, 2, 1]))),
            Ok(vec!["mail.example".to_string(), "other".to_string()])
        );
        assert_eq!(block_on(r.mx("x.example")), Err(DnsError::NoData));
    }
}
