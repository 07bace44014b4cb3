//! Benchmark the message pipeline (divan): header handling must stay linear however many
//! fields of one name a message carries (issue: 100,000 headers used to cost 49 s of CPU),
//! and a message over the limits costs no more than counting its fields. Run:
//! `cargo bench --bench pipeline`. Figures go to docs/PERFORMANCE.md.

use std::sync::Arc;

use authmilter::app::App;
use authmilter::config::{Config, Role};
use authmilter::pipeline::{ClientInfo, MessagePipeline, StageMacros};
use authmilter::services::Services;
use dns::memory::MemoryResolver;

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn app(max_headers: usize) -> Arc<App> {
    let text = format!(
        "[authres]\nauthserv_id = \"mx.example\"\n[server]\nmax_headers = {max_headers}\n\
         max_header_bytes = 1073741824\n[spf]\nenabled = false\n[iprev]\nenabled = false\n"
    );
    let config = Config::parse(&text).expect("bench config");
    Arc::new(App::new(config, Arc::new(MemoryResolver::new())).expect("app"))
}

/// One whole message with `n` fields of one name through the pipeline, limits high enough to
/// keep them all: the time per field must not grow with `n`.
#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 10)]
fn n_fields_of_one_name_kept(bencher: divan::Bencher, n: usize) {
    let rt = runtime();
    let app = app(n + 10);
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench_local(|| run(&rt, &app, n));
}

/// The same message over the default limit (1000 fields): the rest is only counted.
#[divan::bench(args = [10_000, 100_000], sample_count = 10)]
fn n_fields_over_the_limit(bencher: divan::Bencher, n: usize) {
    let rt = runtime();
    let app = app(1000);
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench_local(|| run(&rt, &app, n));
}

fn run(rt: &tokio::runtime::Runtime, app: &Arc<App>, n: usize) {
    rt.block_on(async {
        let mut p = MessagePipeline::new(Arc::clone(app), Services::none(), Role::Verify);
        p.connect(
            ClientInfo {
                hostname: "[192.0.2.1]".into(),
                ip: "192.0.2.1".parse().ok(),
                port: 0,
            },
            None,
        );
        p.helo(b"mail.example.org");
        p.mail(b"a@example.org", Vec::new(), &StageMacros::default());
        p.header(b"From", b" a@example.org");
        for _ in 0..n {
            p.header(b"X-Junk", b" 0123456789");
        }
        p.end_of_headers();
        p.body(b"x\r\n");
        divan::black_box(p.end_of_message().await);
    });
}
