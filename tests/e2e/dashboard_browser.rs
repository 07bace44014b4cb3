//! The dashboard in a real browser (AUTHMILTER_E2E=1): headless Chromium (Debian's
//! `chromium`, installed by tests/install-deps.sh) loads each page of `serve` over a seeded
//! store with every non-loopback request sent to a dead proxy and every host name unresolvable
//! (the pages must need nothing from the network): the DOM it built shows the expected
//! sources and rates, the chart is an SVG with its bars, and a screenshot of each page is
//! saved under `target/tmp/dashboard-screenshots/` (docs/images/ holds copies).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use test_support::process;

use crate::dashboard::{MESSAGES, Seeded, row, source_order, thousands};

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=…`); its stdout.
fn chromium(profile: &Path, url: &str, args: &[&str]) -> String {
    let program = process::find_program("chromium")
        .expect("AUTHMILTER_E2E=1 but `chromium` is not installed (apt-get install chromium)");
    let mut cmd = Command::new(program);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // offline: everything but loopback goes to a closed port, no name resolves
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url)
    .current_dir(profile)
    .stdin(Stdio::null());
    let out = process::run(&mut cmd, Duration::from_secs(90)).expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Width and height of a PNG (its IHDR chunk), checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        data.starts_with(b"\x89PNG\r\n\x1a\n") && data.len() > 24,
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
    (be(16), be(20))
}

/// Nothing in the DOM Chromium built refers to anything outside the page.
fn assert_self_contained(dom: &str) {
    for needle in ["<script", "<link", "<img", "<iframe", " src=", "url("] {
        assert!(!dom.contains(needle), "{needle} in the page:\n{dom}");
    }
    let outside: Vec<&str> = dom
        .split("href=\"")
        .skip(1)
        .filter_map(|h| h.split('"').next())
        .filter(|h| !h.starts_with('/'))
        .collect();
    assert!(outside.is_empty(), "links off the dashboard: {outside:?}");
}

#[test]
#[ignore = "needs AUTHMILTER_E2E=1"]
fn chromium_shows_the_domain_page_offline_with_screenshots() {
    if !test_support::e2e_enabled() {
        return;
    }
    let s = Seeded::start();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let profile = s.path().join("chromium");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let base = format!("http://{}", s.addr);

    // the domain page
    let url = format!("{base}/domain/example.com");
    let dom = chromium(&profile, &url, &["--dump-dom"]);
    assert_self_contained(&dom);
    assert!(dom.contains("<h1>example.com</h1>"), "{dom}");
    assert_eq!(
        source_order(&dom),
        ["198.51.100.9", "198.51.100.66", "192.0.2.1", "203.0.113.5"]
    );
    let esp = row(&dom, "198.51.100.9");
    assert_eq!(esp[1], "out.esp.example");
    assert_eq!(
        esp[3..],
        [
            "200", "200", "0.0 %", "0.0 %", "0.0 %", "100.0 %", "100.0 %"
        ]
    );
    let list = row(&dom, "203.0.113.5");
    assert_eq!(list[1], "fwd.lists.example");
    assert_eq!(
        list[3..],
        [
            "400", "0", "100.0 %", "0.0 %", "100.0 %", "0.0 %", "100.0 %"
        ]
    );
    let total = thousands(MESSAGES).replace(' ', "\u{202f}");
    assert!(dom.contains(&total), "the total {total}");
    assert!(dom.contains("89.6&nbsp;%"), "the pass rate");
    let svg = dom
        .split("<svg")
        .nth(1)
        .and_then(|t| t.split("</svg>").next())
        .expect("the chart's SVG in the DOM");
    let bars: Vec<&str> = svg.split("<rect class=\"bar\"").skip(1).collect();
    assert_eq!(bars.len(), 30, "{svg}");
    for bar in &bars {
        let height: f64 = bar
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .and_then(|h| h.parse().ok())
            .expect("a bar height");
        assert!(height > 0.0, "{bar}");
    }

    // a screenshot of each page
    for (name, path, expect) in [
        ("domains", "/", "other.example"),
        ("domain", "/domain/example.com", "fwd.lists.example"),
        ("outbound", "/outbound", "sender.example"),
    ] {
        let url = format!("{base}{path}");
        let dom = chromium(&profile, &url, &["--dump-dom"]);
        assert!(dom.contains(expect), "{url}: {dom}");
        assert_self_contained(&dom);
        let file = shots.join(format!("dashboard-{name}.png"));
        let _ = std::fs::remove_file(&file);
        chromium(
            &profile,
            &url,
            &[
                &format!("--screenshot={}", file.display()),
                "--window-size=1280,1400",
            ],
        );
        assert_eq!(png_size(&file), (1280, 1400), "{}", file.display());
        let bytes = std::fs::metadata(&file).expect("screenshot").len();
        assert!(
            bytes > 20_000,
            "{} is nearly empty ({bytes} bytes)",
            file.display()
        );
        println!("screenshot: {}", file.display());
    }
    drop(s);
}
