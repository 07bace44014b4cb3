//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert` (docs/reports.md,
//! "PostgreSQL over TLS"). tokio-postgres itself knows only `disable`, `prefer` and
//! `require` and no root certificates, so both parameters are taken out of the connection
//! string here and turned into a rustls configuration (aws-lc-rs provider):
//!
//! | `sslmode`     | TLS                     | server certificate checked                      |
//! |---------------|-------------------------|-------------------------------------------------|
//! | `disable`     | never                   | –                                               |
//! | `prefer`      | if the server offers it | no (the libpq default; plaintext if no TLS)     |
//! | `require`     | always                  | no; with `sslrootcert=` the chain, as libpq does |
//! | `verify-ca`   | always                  | chain to `sslrootcert` (or the system roots)    |
//! | `verify-full` | always                  | chain and host name                             |
//!
//! Only `prefer` ever falls back to plaintext, and only when the server answers that it has
//! no TLS; a failed handshake is an error in every mode.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A root certificate file larger than this is refused (a bundle of every public CA is
/// about 250 KB).
const MAX_ROOT_FILE: u64 = 8 * 1024 * 1024;

/// libpq's `sslmode` (PostgreSQL documentation, "SSL Support", Table 32.1); `allow` is not
/// offered (it prefers plaintext).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, certificate unchecked (the libpq default).
    #[default]
    Prefer,
    /// TLS always; the certificate is checked only when `sslrootcert` is given.
    Require,
    /// TLS always; the certificate chains to a trusted root.
    VerifyCa,
    /// TLS always; the certificate chains to a trusted root and names the host.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow is not supported (it prefers plaintext): use prefer, require, verify-ca or verify-full"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "unknown sslmode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
                ));
            }
        })
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The system's CA store (`sslrootcert` absent, or `sslrootcert=system`).
    System,
    /// A PEM file of CA certificates.
    File(PathBuf),
}

/// The TLS settings of one PostgreSQL connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`, as given (`None`: absent).
    pub root_cert: Option<RootSource>,
}

impl TlsSettings {
    /// The mode tokio-postgres runs (it checks nothing itself; the verifier does).
    pub(crate) fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self.mode {
            SslMode::Disable => Driver::Disable,
            SslMode::Prefer => Driver::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
        }
    }

    /// The roots the server certificate is checked against, `None` when it is not checked.
    fn roots_used(&self) -> Option<&RootSource> {
        match (self.mode, &self.root_cert) {
            (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => None,
            (SslMode::Require, Some(r)) => Some(r),
            (SslMode::VerifyCa | SslMode::VerifyFull, r) => {
                Some(r.as_ref().unwrap_or(&RootSource::System))
            }
        }
    }

    /// Loads the trusted roots these settings use (what `config check` runs): an unreadable
    /// or empty `sslrootcert` file, or no system roots, is an error.
    pub fn check(&self) -> Result<(), String> {
        match self.roots_used() {
            Some(source) => load_roots(source).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The connector for tokio-postgres.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.roots_used() {
            None => Arc::new(AnyCertificate(provider.signature_verification_algorithms)),
            Some(source) => {
                let roots = Arc::new(load_roots(source)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("TLS verifier: {e}"))?;
                if self.mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // PostgreSQL 17 requires this ALPN name with sslnegotiation=direct; older servers
        // ignore it
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(config))
    }
}

fn load_roots(source: &RootSource) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match source {
        RootSource::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), ToString::to_string);
                return Err(format!(
                    "no system CA certificates ({why}): give sslrootcert=/path/to/ca.pem"
                ));
            }
        }
        RootSource::File(path) => {
            let pem = read_bounded(path)?;
            let bad = |why: String| format!("sslrootcert {}: {why}", path.display());
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("no PEM CERTIFICATE in the file".into()));
            }
        }
    }
    Ok(roots)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let bad = |why: String| format!("sslrootcert {}: {why}", path.display());
    let size = std::fs::metadata(path)
        .map_err(|e| bad(e.to_string()))?
        .len();
    if size > MAX_ROOT_FILE {
        return Err(bad(format!("larger than {MAX_ROOT_FILE} bytes")));
    }
    std::fs::read(path).map_err(|e| bad(e.to_string()))
}

/// `verify-ca` (and `require` with a root file): the chain must lead to a trusted root;
/// the host name is not compared. webpki checks the chain before the name, so a name
/// mismatch is only ever reported for an otherwise valid chain.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a root file: any certificate (encryption against a
/// passive listener only); the handshake signatures are still checked, so the session is
/// keyed to the certificate the server showed.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
