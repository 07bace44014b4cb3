//! Compile-time checks that the types the server keeps per message can move between tokio
//! worker threads, and that the key-lookup future is `Send` (so it can be spawned).

use dkim::{HeaderField, MessageVerification, Signer, SigningSession, Verifier};

fn assert_send<T: Send>() {}
fn assert_send_sync<T: Send + Sync>() {}
fn assert_send_future<F: std::future::Future + Send>(_: F) {}

#[test]
fn per_message_state_is_send() {
    assert_send::<MessageVerification>();
    assert_send::<SigningSession>();
    assert_send_sync::<Signer>();
    assert_send_sync::<Verifier>();
    assert_send_sync::<dkim::SignatureResult>();
}

#[test]
fn lookup_future_is_send() {
    let resolver = std::sync::Arc::new(dns::memory::MemoryResolver::new());
    let dyn_resolver: std::sync::Arc<dyn dns::Resolver> = resolver;
    let headers = vec![HeaderField::new("From", " a@example.com")];
    let mut mv = Verifier::default().begin(&headers, 0);
    assert_send_future(mv.lookup_keys(&dyn_resolver));
    assert_send_future(dkim::verify_message(
        &Verifier::default(),
        &dyn_resolver,
        b"",
        0,
    ));
}
