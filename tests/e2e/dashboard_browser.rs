//! The dashboard in a real browser (AUTHMILTER_E2E=1): headless Chromium (Debian's
//! `chromium`, installed by tests/install-deps.sh) loads each page of `serve` over a seeded
//! store with every non-loopback request sent to a dead proxy and every host name unresolvable
//! (the pages must need nothing from the network): the DOM it built shows the expected
//! sources and rates, the chart is an SVG with its bars, drawn (its colours counted in the screenshot's pixels),
//! and a screenshot of each page is saved under `target/tmp/dashboard-screenshots/` (docs/images/ holds copies).

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

/// A decoded screenshot: width, height and 8-bit RGB(A) pixels.
struct Image {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Image {
    /// Reads a non-interlaced 8-bit RGB or RGBA PNG (what Chromium writes).
    fn read(path: &Path) -> Image {
        use std::io::Read;
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            data.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        let (mut at, mut header, mut idat) = (8, None, Vec::new());
        while at + 8 <= data.len() {
            let len = u32::from_be_bytes(data[at..at + 4].try_into().expect("4")) as usize;
            let body = &data[at + 8..at + 8 + len];
            match &data[at + 4..at + 8] {
                b"IHDR" => header = Some(body.to_vec()),
                b"IDAT" => idat.extend_from_slice(body),
                b"IEND" => break,
                _ => {}
            }
            at += 12 + len;
        }
        let h = header.expect("IHDR");
        let be = |i: usize| u32::from_be_bytes(h[i..i + 4].try_into().expect("4")) as usize;
        let (width, height) = (be(0), be(4));
        assert_eq!((h[8], h[12]), (8, 0), "8-bit, not interlaced");
        let channels = match h[9] {
            2 => 3,
            6 => 4,
            t => panic!("PNG colour type {t}"),
        };
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(idat.as_slice())
            .read_to_end(&mut raw)
            .expect("inflate");
        let stride = width * channels;
        assert_eq!(raw.len(), height * (stride + 1));
        let mut pixels = vec![0u8; height * stride];
        for y in 0..height {
            let filter = raw[y * (stride + 1)];
            for x in 0..stride {
                let v = raw[y * (stride + 1) + 1 + x];
                let left = |row: usize| {
                    if x >= channels {
                        pixels[row * stride + x - channels]
                    } else {
                        0
                    }
                };
                let a = left(y);
                let (b, c) = if y > 0 {
                    (pixels[(y - 1) * stride + x], left(y - 1))
                } else {
                    (0, 0)
                };
                let predicted = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => {
                        let p = i16::from(a) + i16::from(b) - i16::from(c);
                        let (pa, pb, pc) = (
                            (p - i16::from(a)).abs(),
                            (p - i16::from(b)).abs(),
                            (p - i16::from(c)).abs(),
                        );
                        if pa <= pb && pa <= pc {
                            a
                        } else if pb <= pc {
                            b
                        } else {
                            c
                        }
                    }
                    f => panic!("PNG filter {f}"),
                };
                pixels[y * stride + x] = v.wrapping_add(predicted);
            }
        }
        Image {
            width,
            height,
            channels,
            pixels,
        }
    }

    /// Pixels within 8 of `rgb` in each channel.
    fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels
            .chunks(self.channels)
            .filter(|p| (0..3).all(|i| p[i].abs_diff(rgb[i]) <= 8))
            .count()
    }
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
        let image = Image::read(&file);
        assert_eq!(
            (image.width, image.height),
            (1280, 1400),
            "{}",
            file.display()
        );
        // the page is drawn: the dark header bar is there
        assert!(
            image.count([0x26, 0x32, 0x38]) > 20_000,
            "{}",
            file.display()
        );
        if name == "domain" {
            // the chart is drawn: its pass bars (green), quarantined and rejected segments
            let (pass, quarantined, rejected) = (
                image.count([0x2e, 0x7d, 0x32]),
                image.count([0xef, 0x6c, 0x00]),
                image.count([0xc6, 0x28, 0x28]),
            );
            println!("chart pixels: {pass} pass, {quarantined} quarantined, {rejected} rejected");
            assert!(
                pass > 15_000 && quarantined > 1_000 && rejected > 300,
                "chart pixels: {pass} pass, {quarantined} quarantined, {rejected} rejected"
            );
        }
        println!("screenshot: {}", file.display());
    }
    drop(s);
}
