//! hickory's connections, each reply checked against the question it answers (RFC 5452 §9.1,
//! RFC 1035 §7.3): hickory checks the question section of a UDP reply, not that of a TCP one,
//! and a reply to another question (a forwarder that mixes up its answers, a broken server)
//! must not be read as the answer, neither its records nor its "no records".

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse, Query};
use hickory_resolver::{ConnectionProvider, PoolContext};

/// tokio's connections, their replies checked (see the module docs).
#[derive(Clone, Default)]
pub(super) struct CheckedProvider(TokioRuntimeProvider);

impl ConnectionProvider for CheckedProvider {
    type Conn = CheckedConnection<<TokioRuntimeProvider as ConnectionProvider>::Conn>;
    type FutureConn = Pin<Box<dyn Future<Output = Result<Self::Conn, NetError>> + Send + 'static>>;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let connecting = self.0.new_connection(ip, config, cx)?;
        Ok(Box::pin(
            async move { Ok(CheckedConnection(connecting.await?)) },
        ))
    }

    fn runtime_provider(&self) -> &TokioRuntimeProvider {
        &self.0
    }
}

/// One connection whose replies are checked.
#[derive(Clone)]
pub(super) struct CheckedConnection<C>(C);

impl<C: DnsHandle> DnsHandle for CheckedConnection<C> {
    type Response = CheckedReplies<C::Response>;
    type Runtime = C::Runtime;

    fn is_verifying_dnssec(&self) -> bool {
        self.0.is_verifying_dnssec()
    }

    fn is_using_edns(&self) -> bool {
        self.0.is_using_edns()
    }

    fn send(&self, request: DnsRequest) -> Self::Response {
        let asked = request.queries.clone();
        CheckedReplies {
            replies: self.0.send(request),
            asked,
        }
    }
}

/// The replies to one request; one to another question is an error.
pub(super) struct CheckedReplies<S> {
    replies: S,
    asked: Vec<Query>,
}

impl<S: Stream<Item = Result<DnsResponse, NetError>> + Unpin> Stream for CheckedReplies<S> {
    type Item = Result<DnsResponse, NetError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.replies).poll_next(cx) {
            Poll::Ready(Some(Ok(reply))) if !answers(&this.asked, &reply.queries) => Poll::Ready(
                Some(Err(NetError::from("the reply answers another question"))),
            ),
            other => other,
        }
    }
}

/// Whether a reply's question section is the one asked: the same questions (name, ASCII case
/// ignored, type and class), as hickory checks a UDP reply.
fn answers(asked: &[Query], replied: &[Query]) -> bool {
    asked.len() == replied.len() && replied.iter().all(|q| asked.contains(q))
}
