//! HTTPS with rustls: a self-signed certificate made by `openssl` for the test, a client that
//! trusts only it, the session cookie marked `Secure`, and certificate files that cannot be used
//! refused with the file and the reason.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use common::{certificate, test_config, TestServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// One HTTP/1.1 exchange over TLS, trusting only `cert`: the status line, headers and body as text.
fn https(addr: std::net::SocketAddr, cert: &Path, request: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert).expect("cert file") {
        roots.add(der.expect("a certificate")).expect("a root");
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let socket = std::net::TcpStream::connect(addr).expect("connect");
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(request.as_bytes()).expect("request");
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_server_speaks_https_with_its_certificate_and_secure_cookies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let files = weft_server::config::TlsFiles { cert: cert.clone(), key: key.clone() };
    let server = TestServer::start_with(|config| {
        config.auth = weft_server::AuthMode::Tokens;
        config.tls = Some(files);
    });
    let addr = server.server.as_ref().expect("running").addr();
    let admin = server.server.as_ref().and_then(|s| s.bootstrap_token()).expect("admin token").to_string();

    let answer = https(addr, &cert, "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = format!("{{\"token\":\"{admin}\"}}");
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = https(addr, &cert, &request);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }

    // Plain HTTP on the TLS port gets no answer.
    let mut plain = std::net::TcpStream::connect(addr).expect("connect");
    plain.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("write");
    let mut buffer = Vec::new();
    let _ = plain.read_to_end(&mut buffer);
    assert!(!String::from_utf8_lossy(&buffer).contains("\"ok\""), "no plain-text answer");
}

#[test]
fn unusable_certificate_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let (other_cert, _) = {
        let other = dir.path().join("other");
        std::fs::create_dir(&other).expect("dir");
        certificate(&other)
    };
    let cases = [
        (dir.path().join("missing.pem"), key.clone(), "missing.pem"),
        (garbage.clone(), key.clone(), "no certificate"),
        (cert.clone(), garbage.clone(), "not a PEM private key"),
        (other_cert, key.clone(), "does not fit"),
    ];
    for (cert, key, expected) in cases {
        let mut config = test_config(&dir.path().join("data"));
        config.tls = Some(weft_server::config::TlsFiles { cert, key });
        let error = weft_server::BackgroundServer::start(config).err().expect("refused").to_string();
        assert!(error.contains(expected) && error.contains("TLS"), "{expected}: {error}");
    }
}
