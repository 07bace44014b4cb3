use super::*;
use milter_proto::Header;

/// After a large frame (a long header, many macros) the connection lets go of the grown
/// allocation once the frame is handled: an idle connection keeps 16 KiB, not the 100 KB or
/// 1 MiB the frame needed. The capacity alone does not show it: once the frame is split off,
/// the buffer's capacity is small while the allocation stays behind it.
#[test]
fn the_read_buffer_returns_to_its_size_after_a_large_frame() {
    let mut wire = BytesMut::new();
    let header = Header {
        name: Bytes::from_static(b"X-Long"),
        value: Bytes::from(vec![b'a'; 100_000]),
    };
    Command::Header(header).encode(&mut wire).unwrap();
    let mut decoder = FrameDecoder::new();
    let mut rbuf = BytesMut::with_capacity(READ_BUFFER);
    let mut grown = false;
    let mut value = None;
    while !wire.is_empty() {
        let room = (rbuf.capacity() - rbuf.len()).max(64);
        rbuf.extend_from_slice(&wire.split_to(room.min(wire.len())));
        while let Some(d) = decoder.decode_streaming(&mut rbuf).unwrap() {
            match d {
                Decoded::Command(Command::Header(h)) => value = Some(h.value),
                other => panic!("{other:?}"),
            }
        }
        note_growth(&rbuf, &mut grown);
        // a frame still arriving keeps the room it needs
        shrink_read_buffer(&mut rbuf, &mut grown);
        if value.is_none() {
            assert!(rbuf.capacity() >= 100_000);
        }
    }
    let value = value.expect("the header");
    assert_eq!(value.len(), 100_000);
    assert!(rbuf.is_empty());
    assert_eq!(rbuf.capacity(), READ_BUFFER);
    // the frame's allocation is the header value's alone: dropped with it
    assert!(
        value.is_unique(),
        "the read buffer still holds the frame's allocation"
    );
}

/// SIGTERM while the MTA's next message is already in the socket but not yet reported by the
/// event loop (Postfix does not wait for replies to CONNECT, HELO, MAIL or DATA): the
/// connection is not idle, the message is read and answered, and the ABORT that Postfix sends
/// after every message still finds the connection open; then it closes.
/// On a current-thread runtime the order is fixed: the commands are written and the stop
/// sent before the milter's task runs again, and the runtime has not polled the socket since.
#[test]
fn a_shutdown_reads_what_the_mta_already_sent_before_calling_the_connection_idle() {
    use crate::config::Config;
    use crate::pipeline::sink::ResultsSink;
    use crate::quiet_socket::QuietSocket;
    use testkit::{MtaClient, Profile};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mta_end, milter_end) = std::os::unix::net::UnixStream::pair().unwrap();
        milter_end.set_nonblocking(true).unwrap();
        mta_end.set_nonblocking(true).unwrap();
        let resolver: Arc<dyn dns::Resolver> =
            Arc::new(dns::memory::MemoryResolver::from_zone("").unwrap());
        let toml = "[authres]\nauthserv_id = \"mx.test.example\"\n\
                    [spf]\nenabled = false\n[iprev]\nenabled = false\n\
                    [dmarc]\nenabled = false\n[dkim]\nverify = false\n";
        let app = Arc::new(App::new(Config::parse(toml).unwrap(), resolver).unwrap());
        let services = Services::new(ResultsSink::disabled(), None, Arc::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let milter = tokio::spawn(serve_connection(
            QuietSocket::new(milter_end).unwrap(),
            app,
            services,
            Role::Verify,
            crate::server::Shutdown {
                stop: stop_rx,
                out_of_time: watch::channel(false).1,
            },
        ));
        let stream = tokio::net::UnixStream::from_std(mta_end).unwrap();
        let mut mta = MtaClient::from_stream(stream, Profile::postfix());
        mta.negotiate().await.unwrap();
        // none of these waits for a reply: they sit in the socket
        mta.connect("c.example", "192.0.2.1".parse().unwrap(), 1, &[])
            .await
            .unwrap();
        mta.mail("<a@example.org>", &[], &[]).await.unwrap();
        mta.rcpt("<b@example.net>", &[], &[]).await.unwrap();
        mta.data(&[]).await.unwrap();
        mta.header("From", " a@example.org").await.unwrap();
        stop_tx.send(true).unwrap();
        mta.eoh().await.unwrap();
        mta.body(b"the body\r\n").await.unwrap();
        let out = mta
            .eom()
            .await
            .expect("the message already sent is answered");
        assert!(out.is_accept(), "{out:?}");
        assert!(out.added_header("Authentication-Results").is_some());
        // then, idle and stopping, the connection closes
        assert!(mta.expect_eof(Duration::from_secs(5)).await.unwrap());
        milter.await.unwrap();
    });
}

mod raw_frames;
