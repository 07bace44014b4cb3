#!/usr/bin/env python3
"""Writes a realistic benchmark corpus: N varied messages of 2-100 KB (log-uniform sizes):
plain prose, format=flowed text (trailing spaces), HTML alternatives, quoted-printable,
base64 attachments, mailing-list style headers. Deterministic (seeded). One .eml per file.

usage: make-corpus.py OUT_DIR [--count 200] [--domain bench.test] [--seed 1] [--size BYTES]
The messages are unsigned; benches/compare.sh signs them with `authmilter dkim sign`.
"""
import argparse
import base64
import os
import random

WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have from "
    "or one had by word but not what all were we when your can said there use an each which she "
    "do how their if will up other about out many then them these so some her would make like "
    "him into time has look two more write go see number no way could people my than first water "
    "been call who oil its now find long down day did get come made may part message domain "
    "authentication signature header policy report delivery server network address invoice "
    "meeting schedule project update review attached document quarterly results customer"
).split()


def sentence(rng):
    n = rng.randint(5, 18)
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    end = rng.choice([".", ".", ".", "?", "!"])
    # some writers put two spaces after a full stop
    return " ".join(words) + end + ("  " if rng.random() < 0.15 else " ")


def paragraph(rng, width=72, flowed=False):
    text = "".join(sentence(rng) for _ in range(rng.randint(2, 7))).strip()
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line + (" " if flowed else ""))
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n".join(lines)


def text_body(rng, size, flowed):
    parts = []
    total = 0
    while total < size:
        p = paragraph(rng, flowed=flowed)
        if rng.random() < 0.1:
            p = "\r\n".join("> " + l for l in p.split("\r\n"))
        parts.append(p)
        total += len(p) + 4
    return "\r\n\r\n".join(parts) + "\r\n"


def html_of(text):
    paras = text.strip().split("\r\n\r\n")
    body = "\r\n".join(f"<p>{p.replace(chr(13) + chr(10), ' ')}</p>" for p in paras)
    return f"<html><body>\r\n{body}\r\n</body></html>\r\n"


def qp(text):
    out = []
    for line in text.split("\r\n"):
        enc = "".join(c if 32 <= ord(c) < 127 and c != "=" else f"={ord(c):02X}" for c in line)
        while len(enc) > 75:
            out.append(enc[:75] + "=")
            enc = enc[75:]
        out.append(enc)
    return "\r\n".join(out)


def b64_lines(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i : i + 76] for i in range(0, len(s), 76)) + "\r\n"


def message(rng, i, size, domain):
    sender = rng.choice(["alice", "bob", "news", "billing", "noreply", "carol"])
    headers = [
        f"Return-Path: <{sender}@{domain}>",
        f"From: {sender.capitalize()} <{sender}@{domain}>",
        f"To: Recipient {i} <user{i}@example.net>",
        f"Subject: {sentence(rng).strip()[:70]}",
        f"Date: Mon, {1 + i % 28} Jan 2024 10:{i % 60:02d}:00 +0000",
        f"Message-ID: <bench.{i}.{rng.getrandbits(48):x}@{domain}>",
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.3:
        headers += [
            f"List-Id: <list{i % 5}.{domain}>",
            f"List-Unsubscribe: <mailto:unsubscribe@{domain}>",
            "Precedence: list",
        ]
    kind = rng.choice(["plain", "flowed", "alternative", "qp", "attachment"])
    boundary = f"=_bench_{i}_{rng.getrandbits(32):x}"
    if kind == "plain":
        headers.append("Content-Type: text/plain; charset=us-ascii")
        body = text_body(rng, size, flowed=False)
    elif kind == "flowed":
        headers.append("Content-Type: text/plain; charset=utf-8; format=flowed")
        body = text_body(rng, size, flowed=True)
    elif kind == "qp":
        headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"]
        body = qp(text_body(rng, size, flowed=False)) + "\r\n"
    elif kind == "alternative":
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        text = text_body(rng, size // 2, flowed=False)
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
            f"--{boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n{html_of(text)}"
            f"--{boundary}--\r\n"
        )
    else:
        headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        text = text_body(rng, max(500, size // 5), flowed=False)
        blob = bytes(rng.getrandbits(8) for _ in range(max(1000, size * 3 // 5)))
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
            f"--{boundary}\r\nContent-Type: application/pdf; name=\"report{i}.pdf\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"report{i}.pdf\"\r\n\r\n{b64_lines(blob)}"
            f"--{boundary}--\r\n"
        )
    return "\r\n".join(headers) + "\r\n\r\n" + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--domain", default="bench.test")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--size", type=int, help="every body about this many bytes (default: 2-100 KB)"
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for i in range(args.count):
        size = int(2000 * (50 ** rng.random()))  # 2 KB .. 100 KB, log-uniform
        if args.size:
            size = args.size
        m = message(rng, i, size, args.domain).encode()
        total += len(m)
        with open(os.path.join(args.out, f"{i:04d}.eml"), "wb") as f:
            f.write(m)
    print(f"{args.count} messages, {total} bytes, mean {total // max(1, args.count)} bytes")


if __name__ == "__main__":
    main()
