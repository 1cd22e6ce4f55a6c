//! TLS (cargo feature `tls`): the certificates made at start, the server configurations (the
//! good one and one per faulty certificate), the client configuration for `https://`
//! upstreams, and the accept path with its handshake faults ([`accept`]). Nothing of TLS is
//! written here: rustls (ring provider) speaks it, rcgen makes the certificates.

pub mod accept;
pub mod wire;

use crate::plan::Handshake;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use std::sync::Arc;

/// The protocols offered by ALPN, most preferred first (rustls picks the first of these the
/// client offers). HTTP/1.1 stays first, so a client that offers both (curl, browsers) keeps
/// HTTP/1.1 and every HTTP/1 plan; a client that offers only "h2" (gRPC's secure channels,
/// `curl --http2-prior-knowledge`) gets HTTP/2: the protocol ALPN chose is the connection's
/// (`server/accept.rs`). `--alpn` changes the order (or leaves a protocol out). Proxy mode
/// offers `http/1.1` only.
pub const ALPN: &[&[u8]] = &[b"http/1.1", b"h2"];

/// Parses `--alpn`'s list (`h2,http/1.1`): the protocols to offer, most preferred first.
pub fn parse_alpn(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for name in text.split(',').map(str::trim) {
        if name != "h2" && name != "http/1.1" {
            return Err(format!(
                "bad --alpn '{}' (expected a list of h2 and http/1.1, such as h2,http/1.1)",
                crate::plan::EscapedUpTo(text, 80)
            ));
        }
        if out.iter().any(|p| p == name.as_bytes()) {
            return Err(format!(
                "bad --alpn '{}': '{name}' twice",
                crate::plan::EscapedUpTo(text, 80)
            ));
        }
        out.push(name.as_bytes().to_vec());
    }
    Ok(out)
}

/// The names the certificate made at start is good for.
pub const NAMES: &[&str] = &["localhost", "*.localhost", "127.0.0.1", "::1"];

/// The only name the `tls=wrong-host` certificate is good for.
pub const WRONG_HOST: &str = "wrong-host.invalid";

/// The server side: a configuration per certificate, and the CA's PEM for clients.
pub struct TlsServer {
    good: Arc<ServerConfig>,
    expired: Arc<ServerConfig>,
    wrong_host: Arc<ServerConfig>,
    self_signed: Arc<ServerConfig>,
    untrusted: Arc<ServerConfig>,
    ca_pem: String,
    /// The good certificate is the user's (`--cert`): the CA made at start did not sign it.
    users: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The server's provider: ring's, with the AES-128-GCM suites first (the server's order wins,
/// see [`server_config`]). Their key schedule and transcript hash are SHA-256, which x86 CPUs
/// with the SHA extensions run in hardware (SHA-384 they do not), and AES-128 is 10 rounds to
/// AES-256's 14: a cheaper handshake and cheaper records, as Go's and BoringSSL's servers
/// choose too. Every TLS client offers AES-128-GCM.
fn server_provider() -> Arc<CryptoProvider> {
    use rustls::CipherSuite as S;
    let mut p = ring::default_provider();
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(p)
}

fn rcgen_error(e: rcgen::Error) -> String {
    format!("cannot make the certificates: {e}")
}

/// This year, from the clock (good to a day, which is all certificate validity needs).
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(0)
}

fn leaf_params(names: &[&str]) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
    for name in names {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*name).try_into().map_err(rcgen_error)?),
        };
        p.subject_alt_names.push(san);
    }
    p.distinguished_name.push(DnType::CommonName, names[0]);
    let year = this_year();
    p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    p.use_authority_key_identifier_extension = true;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(p)
}

fn make_ca(name: &str) -> Result<(rcgen::Certificate, Issuer<'static, KeyPair>), String> {
    let key = KeyPair::generate().map_err(rcgen_error)?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.distinguished_name
        .push(DnType::OrganizationName, "httpfault");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let year = this_year();
    p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let cert = p.self_signed(&key).map_err(rcgen_error)?;
    Ok((cert, Issuer::new(p, key)))
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut c = ServerConfig::builder_with_provider(server_provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    c.alpn_protocols = alpn.to_vec();
    c.ignore_client_order = true;
    // Session tickets would cost every handshake CPU and bytes no test needs.
    c.send_tls13_tickets = 0;
    Ok(Arc::new(c))
}

/// [`server_config`] for a certificate made at start.
fn made_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, String> {
    server_config(chain, key, alpn).map_err(|e| format!("cannot set up TLS: {e}"))
}

/// The user's own certificate chain and private key (PEM text, `--cert FILE --key FILE`),
/// and how errors name them (`--key file 'key.pem'`).
pub struct UserCert<'a> {
    pub cert: &'a [u8],
    pub key: &'a [u8],
    pub cert_name: &'a str,
    pub key_name: &'a str,
}

impl UserCert<'_> {
    /// The chain and the key, or a one-line reason naming the file and what is wrong with it.
    fn load(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
        let chain = CertificateDer::pem_slice_iter(self.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("bad {}: not PEM ({e})", self.cert_name))?;
        if chain.is_empty() {
            return Err(format!(
                "bad {}: no certificate in it (expected a -----BEGIN CERTIFICATE----- block)",
                self.cert_name
            ));
        }
        let key = read_key(self.key).map_err(|why| format!("bad {}: {why}", self.key_name))?;
        Ok((chain, key))
    }
}

/// A PEM private key, or what is wrong with the text in plain words.
fn read_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    let has = |s: &str| pem.windows(s.len()).any(|w| w == s.as_bytes());
    if has("-----BEGIN ENCRYPTED PRIVATE KEY-----") || has("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "the key is encrypted with a passphrase, and encrypted keys are not \
                    supported (decrypt it: openssl pkey -in KEY -out plain.pem)"
                .into(),
        );
    }
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) if has("-----BEGIN CERTIFICATE-----") => {
            Err("it holds a certificate, not a private key (expected a \
                 -----BEGIN PRIVATE KEY----- block)"
                .into())
        }
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Err("no PEM private key found in it \
             (expected a -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY block)"
            .into()),
        Err(e) => Err(format!("not a PEM private key ({e})")),
    }
}

/// The server configuration for the user's own chain and key, with rustls's refusals said
/// in plain words naming the files.
fn user_config(
    u: &UserCert<'_>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[Vec<u8>],
) -> Result<Arc<ServerConfig>, String> {
    server_config(chain, key, alpn).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "the key in {} does not match the certificate in {} (the first certificate must \
             be the key's own)",
            u.key_name, u.cert_name
        ),
        rustls::Error::General(_) => format!(
            "bad {}: a key type rustls cannot use (expected RSA, ECDSA P-256/P-384 or Ed25519)",
            u.key_name
        ),
        e => format!("bad {}: {e}", u.cert_name),
    })
}

impl TlsServer {
    /// Makes a CA and the certificates (all with one key) at start: the good one for
    /// [`NAMES`] unless `user` gives a certificate chain and key, and the faulty
    /// ones, signed by the same CA except `self-signed` and `untrusted`.
    /// `extra` names go into the certificates beside [`NAMES`] (the SNI routes' names: curl,
    /// OpenSSL and Python refuse `*.localhost`, a wildcard one label above a top-level name).
    /// `alpn`: the protocols offered, most preferred first (`None`: [`ALPN`]).
    pub fn new(
        user: Option<UserCert<'_>>,
        extra: &[String],
        alpn: Option<&[Vec<u8>]>,
    ) -> Result<TlsServer, String> {
        let default_alpn: Vec<Vec<u8>> = ALPN.iter().map(|p| p.to_vec()).collect();
        let alpn = alpn.unwrap_or(&default_alpn);
        let mut all: Vec<&str> = NAMES.to_vec();
        all.extend(
            extra
                .iter()
                .map(String::as_str)
                .filter(|n| n.is_ascii() && !n.is_empty()),
        );
        let names = &all[..];
        let (ca_cert, ca) = make_ca("httpfault CA")?;
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let key_der = || PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let signed = |p: CertificateParams, by: &Issuer<'_, KeyPair>| {
            p.signed_by(&key, by)
                .map(|c| c.der().clone())
                .map_err(rcgen_error)
        };
        let good = match &user {
            Some(u) => {
                let (chain, key) = u.load()?;
                user_config(u, chain, key, alpn)?
            }
            None => made_config(
                vec![signed(leaf_params(names)?, &ca)?, ca_cert.der().clone()],
                key_der(),
                alpn,
            )?,
        };
        let mut expired = leaf_params(names)?;
        expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let self_signed = leaf_params(names)?.self_signed(&key).map_err(rcgen_error)?;
        let (_, stranger) = make_ca("httpfault untrusted CA")?;
        Ok(TlsServer {
            good,
            expired: made_config(vec![signed(expired, &ca)?], key_der(), alpn)?,
            wrong_host: made_config(
                vec![signed(leaf_params(&[WRONG_HOST])?, &ca)?],
                key_der(),
                alpn,
            )?,
            self_signed: made_config(vec![self_signed.der().clone()], key_der(), alpn)?,
            untrusted: made_config(
                vec![signed(leaf_params(names)?, &stranger)?],
                key_der(),
                alpn,
            )?,
            ca_pem: ca_cert.pem(),
            users: user.is_some(),
        })
    }

    /// The configuration for a handshake: the good certificate, or the faulty one.
    pub fn config(&self, fault: Option<Handshake>) -> Arc<ServerConfig> {
        Arc::clone(match fault {
            Some(Handshake::Expired) => &self.expired,
            Some(Handshake::WrongHost) => &self.wrong_host,
            Some(Handshake::SelfSigned) => &self.self_signed,
            Some(Handshake::Untrusted) => &self.untrusted,
            _ => &self.good,
        })
    }

    /// The CA's certificate, PEM: what a client trusts. `None` when the good certificate is
    /// the user's own (the CA made at start signed only the faulty ones).
    pub fn ca_pem(&self) -> Option<&str> {
        (!self.users).then_some(self.ca_pem.as_str())
    }
}

/// How proxy mode checks an `https://` upstream's certificate.
pub enum UpstreamTrust {
    /// The CAs in this PEM text (`--upstream-ca FILE`).
    Ca(Vec<u8>),
    /// The system's CA bundle (`SSL_CERT_FILE`, or the usual places).
    System,
    /// Anything (`--upstream-insecure`).
    Insecure,
}

/// Where Linux distributions keep the CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The client configuration for `https://` upstreams.
pub fn client_config(trust: &UpstreamTrust) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let mut config = match trust {
        UpstreamTrust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider())))
            .with_no_client_auth(),
        _ => {
            let pem = match trust {
                UpstreamTrust::Ca(pem) => pem.clone(),
                _ => {
                    let env = std::env::var("SSL_CERT_FILE").ok();
                    let path = env
                        .iter()
                        .map(String::as_str)
                        .chain(SYSTEM_BUNDLES.iter().copied())
                        .find(|p| std::path::Path::new(p).exists())
                        .ok_or("no CA bundle found for the https upstream (use --upstream-ca FILE or --upstream-insecure)")?;
                    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?
                }
            };
            let mut roots = RootCertStore::empty();
            let mut given = Vec::new();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("bad CA file: {e}"))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("bad CA certificate: {e}"))?;
                given.push(cert);
            }
            if roots.is_empty() {
                return Err("bad CA file: no CERTIFICATE in it".into());
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("cannot set up TLS: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustFile {
                    webpki,
                    given: match trust {
                        UpstreamTrust::Ca(_) => given,
                        _ => Vec::new(),
                    },
                }))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The upstream's name for SNI and the certificate check: `localhost`, or its IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|_| format!("'{host}' is not a server name"))
}

/// Trust in an `https://` upstream from CA certificates: a chain that leads to one of them
/// (webpki), or, for `--upstream-ca FILE`, one of FILE's certificates presented as the
/// upstream's own. The second is the self-signed certificate `openssl req -x509` makes, which
/// marks itself a CA (`CA:TRUE`), so webpki refuses it as a server's (`CaUsedAsEndEntity`);
/// curl and OpenSSL trust it as itself, and so does this, once its dates (which webpki checks
/// before the CA flag) and its names hold. The handshake's signature proves the upstream holds
/// its key.
#[derive(Debug)]
struct TrustFile {
    webpki: Arc<WebPkiServerVerifier>,
    /// `--upstream-ca`'s certificates (none for the system's bundle).
    given: Vec<CertificateDer<'static>>,
}

/// webpki's refusal of a CA certificate as a server's own (it has no variant of its own in
/// rustls's errors).
fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(o)) => {
            format!("{o:?}").contains("CaUsedAsEndEntity")
        }
        _ => false,
    }
}

impl ServerCertVerifier for TrustFile {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self.given.iter().any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                let cert = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&cert, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A failed handshake with an `https://` upstream, in words that say what to do.
pub fn explain_client_error(e: &rustls::Error) -> String {
    let hint = match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (not signed by a CA it trusts: give the CA with --upstream-ca FILE)"
        }
        e if is_ca_used_as_end_entity(e) => {
            " (a CA certificate used as the server's own: give that very certificate with \
             --upstream-ca FILE to trust it as itself)"
        }
        _ => "",
    };
    format!("{e}{hint}")
}

/// `--upstream-insecure`: every certificate is accepted (signatures are still checked, so
/// the handshake itself is real).
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_made_at_start() {
        let t = TlsServer::new(None, &[], None).unwrap();
        let pem = t.ca_pem().unwrap().to_string();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        // The CA trusts the good chain: a client config from it builds.
        assert!(client_config(&UpstreamTrust::Ca(pem.into_bytes())).is_ok());
        assert!(client_config(&UpstreamTrust::Ca(b"nothing".to_vec())).is_err());
    }

    fn user<'a>(cert: &'a [u8], key: &'a [u8]) -> UserCert<'a> {
        UserCert {
            cert,
            key,
            cert_name: "--cert file 'c.pem'",
            key_name: "--key file 'k.pem'",
        }
    }

    fn err(cert: &[u8], key: &[u8]) -> String {
        match TlsServer::new(Some(user(cert, key)), &[], None) {
            Err(e) => e,
            Ok(_) => panic!("accepted"),
        }
    }

    /// A self-signed certificate for `names` (with `CA:TRUE` when `ca`, as `openssl req
    /// -x509` makes them), and its key: both PEM.
    fn self_signed(names: &[&str], ca: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = leaf_params(names).unwrap();
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages.push(KeyUsagePurpose::KeyCertSign);
            p.extended_key_usages.clear();
        }
        (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    /// Issue 24 item 21: key and certificate errors name the file and say what is wrong.
    #[test]
    fn user_files_are_checked_and_errors_say_why() {
        let (cert, key) = self_signed(&["localhost"], false);
        let (cert, key) = (cert.as_bytes(), key.as_bytes());
        assert!(TlsServer::new(Some(user(cert, key)), &[], None).is_ok());
        let e = err(b"no pem", key);
        assert!(
            e.starts_with("bad --cert file 'c.pem': no certificate"),
            "{e}"
        );
        let e = err(cert, b"no pem");
        assert!(
            e.starts_with("bad --key file 'k.pem': no PEM private key"),
            "{e}"
        );
        let e = err(cert, cert);
        assert!(
            e.contains("'k.pem': it holds a certificate, not a private key"),
            "{e}"
        );
        // What `openssl pkcs8 -topk8 -v2 aes256` writes (the body does not matter: the label
        // says it all), and a legacy encrypted RSA key.
        let encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkq\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = err(cert, encrypted);
        assert!(e.contains("'k.pem': the key is encrypted"), "{e}");
        assert!(e.contains("not supported"), "{e}");
        let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(err(cert, legacy).contains("encrypted"));
        let (_, other_key) = self_signed(&["localhost"], false);
        let e = err(cert, other_key.as_bytes());
        assert_eq!(
            e,
            "the key in --key file 'k.pem' does not match the certificate in --cert file \
             'c.pem' (the first certificate must be the key's own)"
        );
    }

    /// A handshake in memory; the client's error, if any.
    fn handshake(
        client: Arc<ClientConfig>,
        name: &str,
        server: Arc<ServerConfig>,
    ) -> Result<(), rustls::Error> {
        let mut c =
            rustls::ClientConnection::new(client, ServerName::try_from(name.to_string()).unwrap())?;
        let mut s = rustls::ServerConnection::new(server)?;
        for _ in 0..10 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets()?;
            buf.clear();
            while s.wants_write() {
                s.write_tls(&mut buf).unwrap();
            }
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets()?;
            if !c.is_handshaking() {
                return Ok(());
            }
        }
        panic!("no end to the handshake");
    }

    /// Issue 24 item 21: `--upstream-ca` with the usual `openssl req -x509` certificate
    /// (self-signed, `CA:TRUE`) trusts it as the upstream's own, as curl does; its names
    /// still count, and a CA certificate not in the file is still refused.
    #[test]
    fn a_self_signed_ca_certificate_given_as_the_ca_is_trusted_as_itself() {
        let (cert, key) = self_signed(&["localhost"], true);
        let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
        let key_der = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let server = server_config(chain, key_der, &[b"http/1.1".to_vec()]).unwrap();
        let client = client_config(&UpstreamTrust::Ca(cert.clone().into_bytes())).unwrap();
        assert_eq!(
            handshake(client.clone(), "localhost", server.clone()),
            Ok(())
        );
        let e = handshake(client, "other.test", server.clone()).unwrap_err();
        assert!(
            matches!(
                e,
                rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
            ),
            "{e:?}"
        );
        // Another CA file: still CaUsedAsEndEntity, explained.
        let (other, _) = self_signed(&["localhost"], true);
        let client = client_config(&UpstreamTrust::Ca(other.into_bytes())).unwrap();
        let e = handshake(client, "localhost", server).unwrap_err();
        assert!(is_ca_used_as_end_entity(&e), "{e:?}");
        assert!(explain_client_error(&e).contains("--upstream-ca"), "{e}");
    }
}
