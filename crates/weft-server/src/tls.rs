//! HTTPS: the server's certificate chain and private key read from PEM files into a rustls
//! configuration (ring as its cryptography, HTTP/2 or HTTP/1.1 by ALPN), and the errors that name the file and
//! what is wrong with it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;
use crate::ServerError;

/// The acceptor for `files`: refuses a missing, unreadable or mismatched certificate and key.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    let problem = |path: &Path, what: String| ServerError::Config(format!("TLS: {}: {what}", path.display()));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| problem(&files.cert, format!("cannot read certificates: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| problem(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(problem(&files.cert, "holds no certificate (expected -----BEGIN CERTIFICATE-----)".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| problem(&files.key, format!("not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")))?;
    // ring rather than aws-lc-rs: one cryptography crate for the whole platform and no C/CMake
    // build on two cores. rustls 0.23.48 deprecates it for lacking post-quantum key exchange
    // (X25519MLKEM768); classical X25519/ECDHE remain, as every browser still offers them.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| problem(&files.key, format!("does not fit the certificate: {e}")))?;
    // HTTP/2 first, as ksqlDB's clients require it; listen.rs serves whichever ALPN agreed.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
