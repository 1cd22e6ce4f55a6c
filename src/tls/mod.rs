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
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
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
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
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
) -> Result<Arc<ServerConfig>, String> {
    let mut c = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("bad certificate or key: {e}"))?;
    c.alpn_protocols = alpn.to_vec();
    // Session tickets would cost every handshake CPU and bytes no test needs.
    c.send_tls13_tickets = 0;
    Ok(Arc::new(c))
}

impl TlsServer {
    /// Makes a CA and the certificates (all with one key) at start: the good one for
    /// [`NAMES`] unless `user` gives a certificate chain and key (PEM text), and the faulty
    /// ones, signed by the same CA except `self-signed` and `untrusted`.
    /// `extra` names go into the certificates beside [`NAMES`] (the SNI routes' names: curl,
    /// OpenSSL and Python refuse `*.localhost`, a wildcard one label above a top-level name).
    /// `alpn`: the protocols offered, most preferred first (`None`: [`ALPN`]).
    pub fn new(
        user: Option<(&[u8], &[u8])>,
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
        let good = match user {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("bad --cert file: {e}"))?;
                if chain.is_empty() {
                    return Err("bad --cert file: no CERTIFICATE in it".into());
                }
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| format!("bad --key file: {e}"))?;
                server_config(chain, key, alpn)?
            }
            None => server_config(
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
            expired: server_config(vec![signed(expired, &ca)?], key_der(), alpn)?,
            wrong_host: server_config(
                vec![signed(leaf_params(&[WRONG_HOST])?, &ca)?],
                key_der(),
                alpn,
            )?,
            self_signed: server_config(vec![self_signed.der().clone()], key_der(), alpn)?,
            untrusted: server_config(
                vec![signed(leaf_params(names)?, &stranger)?],
                key_der(),
                alpn,
            )?,
            ca_pem: ca_cert.pem(),
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

    /// The CA's certificate, PEM: what a client trusts.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
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
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("bad CA file: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("bad CA certificate: {e}"))?;
            }
            if roots.is_empty() {
                return Err("bad CA file: no CERTIFICATE in it".into());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
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
        assert!(t.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let pem = t.ca_pem().to_string();
        // The CA trusts the good chain: a client config from it builds.
        assert!(client_config(&UpstreamTrust::Ca(pem.into_bytes())).is_ok());
        assert!(client_config(&UpstreamTrust::Ca(b"nothing".to_vec())).is_err());
    }

    #[test]
    fn user_files_are_checked() {
        assert!(TlsServer::new(Some((b"no pem", b"no pem")), &[], None).is_err());
    }
}
