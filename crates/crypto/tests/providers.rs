//! Every compiled backend (aws-lc-rs, ring) gives the same answers: RFC 8032 Ed25519, RSA-2048
//! PKCS#1 v1.5 over PKCS#1 and PKCS#8 keys, the RFC 8301 size rules, and both Ed25519 PKCS#8
//! forms (v1 as OpenSSL and `dkim genkey` write it, v2 as earlier versions wrote it).

use crypto::{CryptoError, KeyType, SigAlg, providers, rsa_public_key_from_spki};

/// RFC 8032 §7.1 TEST 1.
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const PUBLIC: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

#[test]
fn both_backends_are_compiled_for_this_test_or_one_is() {
    assert!(!providers().is_empty());
}

#[test]
fn ed25519_sign_verify() {
    for p in providers() {
        let key = p.ed25519_from_seed(&SEED).unwrap();
        let pk = key.public_key_dns();
        assert_eq!(pk, PUBLIC, "{}", p.name());
        let sig = key.sign(b"hello").unwrap();
        for q in providers() {
            let v = q.verify(SigAlg::Ed25519, &pk, b"hello", &sig).unwrap();
            assert_eq!(v.key_type, KeyType::Ed25519);
        }
        assert_eq!(
            p.verify(SigAlg::Ed25519, &pk, b"hellO", &sig),
            Err(CryptoError::BadSignature)
        );
        assert!(
            p.verify(SigAlg::Ed25519, &pk[..31], b"hello", &sig)
                .is_err()
        );
    }
}

#[test]
fn ed25519_pkcs8_v1_and_v2_both_load() {
    let v1 = crypto::keygen::ed25519_pkcs8_v1(&SEED);
    // PKCS#8 v2 (RFC 5958) exactly as ring 0.17's generate_pkcs8 wrote it (earlier genkey).
    let mut v2 = vec![
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v2.extend_from_slice(&SEED);
    v2.extend_from_slice(&[0x81, 0x21, 0x00]);
    v2.extend_from_slice(&PUBLIC);
    for p in providers() {
        for der in [&v1, &v2] {
            let pem = crypto::keygen::pem_encode("PRIVATE KEY", der);
            for input in [pem.as_bytes(), der.as_slice()] {
                let key = p
                    .signing_key(input)
                    .unwrap_or_else(|e| panic!("{} {e} {:02x?}", p.name(), &input[..20]));
                assert_eq!(key.key_type(), KeyType::Ed25519);
                assert_eq!(key.public_key_dns(), PUBLIC, "{}", p.name());
            }
        }
    }
}

#[test]
fn rejects_1024_bit_signing_key() {
    for p in providers() {
        let err = p
            .signing_key(include_bytes!("data/rsa1024.pem"))
            .unwrap_err();
        assert_eq!(err, CryptoError::KeyTooSmall { bits: 1024 });
    }
}

#[test]
fn rsa2048_pkcs1_and_pkcs8_sign_identically_in_every_backend() {
    let mut first: Option<Vec<u8>> = None;
    for p in providers() {
        let k1 = p
            .signing_key(include_bytes!("data/rsa2048-pkcs1.pem"))
            .unwrap();
        let k8 = p
            .signing_key(include_bytes!("data/rsa2048-pkcs8.pem"))
            .unwrap();
        assert_eq!(k1.bits(), 2048);
        let s1 = k1.sign(b"data").unwrap();
        assert_eq!(s1, k8.sign(b"data").unwrap());
        // PKCS#1 v1.5 is deterministic: every backend makes the same signature.
        assert_eq!(first.get_or_insert_with(|| s1.clone()), &s1, "{}", p.name());
        let pk = k1.public_key_dns();
        assert_eq!(pk, k8.public_key_dns());
        let v = p.verify(SigAlg::RsaSha256, &pk, b"data", &s1).unwrap();
        assert_eq!(v.bits, 2048);
        let bare = rsa_public_key_from_spki(&pk).unwrap();
        assert!(p.verify(SigAlg::RsaSha256, bare, b"data", &s1).is_ok());
        assert_eq!(
            p.verify(SigAlg::RsaSha256, &pk, b"Data", &s1),
            Err(CryptoError::BadSignature)
        );
    }
}

#[test]
fn openssl_ed25519_pkcs8_v1_loads() {
    for p in providers() {
        let key = p
            .signing_key(include_bytes!("data/ed25519-openssl.pem"))
            .unwrap();
        assert_eq!(key.key_type(), KeyType::Ed25519);
    }
}

#[test]
fn garbage_keys_are_errors_not_panics() {
    for p in providers() {
        for input in [
            &b""[..],
            b"\x30\x03\x02\x01",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(p.signing_key(input).is_err());
        }
        assert!(
            p.verify(SigAlg::RsaSha256, b"\x30\x00", b"x", b"y")
                .is_err()
        );
    }
}

/// A mutated PKCS#1 key from the `private_key` fuzz target: a fuzz build of ring loaded it and
/// then failed every signature. Every backend must refuse it when it is loaded.
#[test]
fn refuses_an_inconsistent_rsa_key_at_load() {
    let der = include_bytes!(
        "../../../fuzz/seeds/private_key/crash-aa711d238f4be7bbc2ab21ecf7d7e92e19668edb"
    );
    for p in providers() {
        let err = p.signing_key(der).unwrap_err();
        assert!(matches!(err, CryptoError::InvalidPrivateKey(_)), "{err}");
    }
}

/// Keys RFC 8017 §A.1.1 and the backends accept although they are unusual: a 1025-bit
/// modulus and the exponent 3 (SPKI, and an RSASSA-PKCS1-v1_5 SHA-256 signature over `data`;
/// made for this test from random primes with Python's integers). Every backend verifies them.
const RSA_1025_E65537: (&str, &str) = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQFyhjbBLqP1JpOkUfrc3fmbzIgVg7S0hZD+aJNi1DLoxjLEXTrSgMa5Y5KVMOEHzzIjigPC/pZs8HfIfElx+C2jcmDRoZodSyTvfEzZO48cAxrm9fYTCgM9MGv9mNSOhYDqnnPf65L9WOhcEFHDatS7Vkk/gZ7vpXk/vBO4H/RphwIDAQAB",
    "ADN9MsRr2Md1kt6HoLz9jfdsN7pOVy0VtRBM8+0HyT2q7rl8qLeRmAq6UFdH6Hb0hKzButqMnxIGhAKpynsWsxKgL48zibDOZDo27y/GZubPF7whyzKtgt67PXeZ9dpUOpE9zka1b7b/K41MS6WJWRUeOZ5/q/iHa3nt20Mgqnwy",
);
const RSA_2048_E3: (&str, &str) = (
    "MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAsk7YkwqnwolfiQKp85cLc43rpz1x+T1i+Hp7JRzhhjzlNAtSmu1vBWL3eDem/bThq4ypE48cUYjKQFNjXZz3ODrb9tYGWmUPtRP8AD/BhQwnPZ1nbTkfs1GmmMFtioEfQiFIReiw90mX5/VTdHss7P/jy9zRXaGgcCTc0r8l/YtzmYbsBUmqnxCB+yllMW0baFOScpBCb22ekOd1LnALHow7gU5yDaBd7Tj66Jcl08qX/GrEaAz8ZawqOlXycwWOIarKys8PbTkl1eu8f+AUTpLcH/zZZ406Ia48yW6ugmu0RcNJmeKcHLqmvvoS8DlodE10pOzeQ9V2fQ77xrB2ywIBAw==",
    "Q8GZ5vlE4PHLRDPMPTZGTnzFOPusF2jAtdgWxVRoFhm83r7yJ1pbi1hPsG93Ud5ZuocbbbMbUbyWuOCDZbdZZlkv0u5spE/u/XAM3UzdCQta8JxPUQOYe4DcXHocvEKipdwbs9ZZDJXID+uzRQZIZcdHKvU3GMhvkF2ei4glE+r4UlY1tNWc3APV2scYjKXzXcYg0BylkoE5l6iP/3FPOdU0yv+vg4DeJZzRmyes3mo/pB0uDT4FWDU+uC18VFCzPU6pxBvKAlIziU4VuCSL0OK4PrzfAFjdbbpX6pgLtKT9eTCcl7ojn5hbjUQGp+hFV9okr9D3ddgF6ImYvpTqbQ==",
);

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// A bare RSAPublicKey (RFC 8017 §A.1.1) from the contents octets of its two INTEGERs.
fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
        out.push(tag);
        match body.len() {
            l @ 0..128 => out.push(l as u8),
            l @ 128..256 => out.extend_from_slice(&[0x81, l as u8]),
            l => out.extend_from_slice(&[0x82, (l >> 8) as u8, l as u8]),
        }
        out.extend_from_slice(body);
    }
    let mut ints = Vec::new();
    tlv(&mut ints, 0x02, n);
    tlv(&mut ints, 0x02, e);
    let mut out = Vec::new();
    tlv(&mut out, 0x30, &ints);
    out
}

#[test]
fn odd_sizes_and_exponent_3_verify_in_every_backend() {
    for p in providers() {
        for ((key, sig), bits) in [(RSA_1025_E65537, 1025), (RSA_2048_E3, 2048)] {
            let v = p.verify(SigAlg::RsaSha256, &b64(key), b"data", &b64(sig));
            assert_eq!(v.map(|v| v.bits), Ok(bits), "{} {bits}", p.name());
            assert_eq!(
                p.verify(SigAlg::RsaSha256, &b64(key), b"date", &b64(sig)),
                Err(CryptoError::BadSignature),
                "{}",
                p.name()
            );
        }
    }
}

/// A key whose DER parses but that no backend can use (RFC 8017 §3.1: n odd and positive,
/// 3 <= e < n with e odd; both backends also cap e below 2^33) is an invalid public key, not
/// a signature that does not verify: RFC 6376 §6.1.2 step 8 "not suitable for use with the
/// algorithm" is PERMFAIL, and a verifier must tell it apart from a failed signature.
#[test]
fn keys_the_backends_refuse_are_invalid_not_bad_signatures() {
    let (key, sig) = RSA_2048_E3;
    let (key, sig) = (b64(key), b64(sig));
    let bare = rsa_public_key_from_spki(&key).unwrap();
    // 30 82 01 08 | 02 82 01 01 <257 octets of n> | 02 01 03
    let n = &bare[8..8 + 257];
    assert_eq!((n[0], bare[8 + 257..].to_vec()), (0, vec![2, 1, 3]));
    let mut even_n = n.to_vec();
    *even_n.last_mut().unwrap() &= 0xfe;
    let mut padded_n = vec![0];
    padded_n.extend_from_slice(n);
    let cases: [(&str, Vec<u8>); 10] = [
        ("e=1", rsa_public_key(n, &[1])),
        ("e=0", rsa_public_key(n, &[0])),
        ("even e", rsa_public_key(n, &[1, 0, 2])),
        ("negative e", rsa_public_key(n, &[0x83])),
        ("e = 2^33 + 1", rsa_public_key(n, &[2, 0, 0, 0, 1])),
        ("e not minimal", rsa_public_key(n, &[0, 3])),
        ("even n", rsa_public_key(&even_n, &[3])),
        ("negative n", rsa_public_key(&n[1..], &[3])),
        ("n not minimal", rsa_public_key(&padded_n, &[3])),
        ("e = n", rsa_public_key(n, n)),
    ];
    for p in providers() {
        for (name, bare) in &cases {
            for form in [bare.clone(), crypto::spki_from_rsa_public_key(bare)] {
                let got = p.verify(SigAlg::RsaSha256, &form, b"data", &sig);
                assert!(
                    matches!(got, Err(CryptoError::InvalidPublicKey(_))),
                    "{} {name}: {got:?}",
                    p.name()
                );
                assert!(
                    matches!(
                        crypto::rsa_verify_key_bits(&form),
                        Err(CryptoError::InvalidPublicKey(_))
                    ),
                    "{name}"
                );
            }
        }
        assert_eq!(crypto::rsa_verify_key_bits(&key), Ok(2048));
    }
}

/// The Ed25519 points of small order (1, 2, 4, 8) as public keys, with either sign bit: the
/// seven encodings libsodium refuses (`ge25519_has_small_order`), recomputed for this test from
/// the curve (the 8-torsion of edwards25519 and the non-canonical y + p). With such a key the
/// "signature" R = a small-order point, S = 0 verifies for a share of all messages without any
/// private key: every backend verifies the all-zero key with the all-zero signature over `x`.
/// A domain that publishes one (say, zeros as a "revoked" key) would let anyone sign for it,
/// so such a key is invalid (RFC 8463 §4.2 is a public key; RFC 8032 §5.1.7 leaves the check to
/// the verifier).
#[test]
fn small_order_ed25519_keys_are_invalid() {
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let small_order = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    for p in providers() {
        for key in small_order {
            for sign in [0u8, 0x80] {
                let mut key = hex(key);
                key[31] |= sign;
                let got = p.verify(SigAlg::Ed25519, &key, b"x", &[0u8; 64]);
                assert!(
                    matches!(got, Err(CryptoError::InvalidPublicKey(_))),
                    "{} {key:02x?}: {got:?}",
                    p.name()
                );
            }
        }
        // RFC 8032 §7.1 TEST 1 still verifies
        let key = p.ed25519_from_seed(&SEED).unwrap();
        let sig = key.sign(b"x").unwrap();
        assert!(p.verify(SigAlg::Ed25519, &PUBLIC, b"x", &sig).is_ok());
    }
}

/// Key files as other tools leave them (RFC 7468 §2: text before the encapsulation boundary is
/// allowed): `openssl pkcs12 -nodes` writes `Bag Attributes` lines before the PEM block, which
/// were read as DER ("unusable signing key"); an encrypted PKCS#8 or PKCS#1 key and an OpenSSH
/// key get an error that says what they are and how to convert them.
#[test]
fn pem_after_a_preamble_loads_and_encrypted_or_openssh_keys_say_so() {
    let pem = include_str!("data/ed25519-openssl.pem");
    let bag = format!("Bag Attributes\n    localKeyID: 01\nKey Attributes: <No Attributes>\n{pem}");
    let encrypted_pkcs8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFLTBXBgkqhkiG9w0BBQ0w\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let encrypted_pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,79955B86842581F5E2145FDAB65694EE\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n";
    for p in providers() {
        let key = p.signing_key(bag.as_bytes()).expect("PEM after a preamble");
        assert_eq!(key.key_type(), KeyType::Ed25519);
        for (input, words) in [
            (encrypted_pkcs8, "encrypted"),
            (encrypted_pkcs1, "encrypted"),
            (openssh, "OpenSSH"),
        ] {
            let Err(err) = p.signing_key(input.as_bytes()) else {
                panic!("{words} key loaded")
            };
            let text = err.to_string();
            assert!(
                text.contains(words)
                    && text.contains("not supported")
                    && text.contains("openssl pkey"),
                "{text}"
            );
        }
    }
}
