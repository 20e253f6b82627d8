//! Real HTTPS on 127.0.0.1 with a CA and certificates made by the test.

use super::*;
use crate::probe::failure::FailureClass;
use bytes::Bytes;
use hyper::server::conn::http1 as server_http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A leaf certificate for `names`; `expired` puts its validity in the past.
    fn issue(&self, names: &[&str], expired: bool) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    fn write(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }

    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
}

struct Leaf {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Leaf {
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.der().clone()]
    }
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }
    /// Writes `<name>.pem` and `<name>.key`.
    fn write(&self, dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, self.cert.pem()).unwrap();
        std::fs::write(&key, self.key.serialize_pem()).unwrap();
        (cert, key)
    }
}

/// An HTTP(S) server on 127.0.0.1 answering `{"status":"up"}`, counting accepted
/// connections. `/slow` never answers.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(tls: Option<ServerConfig>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c)));
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => serve_http(tcp).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve_http(stream).await;
                            }
                        }
                    }
                });
            }
        });
        Server {
            port,
            accepted,
            task,
        }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/health", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn serve_http<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
        if request.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        let body = http_body_util::Full::new(Bytes::from_static(br#"{"status":"up"}"#));
        Ok::<_, std::convert::Infallible>(hyper::Response::new(body))
    });
    let _ = server_http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn server_config(leaf: &Leaf, client_ca: Option<&Ca>) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.der()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder.with_single_cert(leaf.chain(), leaf.key()).unwrap()
}

fn options(tls: Option<TlsSpec>, reuse_connection: bool) -> ClientOptions {
    ClientOptions {
        tls,
        reuse_connection,
        timeout: Duration::from_secs(5),
    }
}

fn trusting(ca_file: &Path) -> TlsSpec {
    TlsSpec {
        ca_file: Some(ca_file.to_path_buf()),
        ..TlsSpec::default()
    }
}

fn get(url: &str) -> Request<Bytes> {
    Request::get(url).body(Bytes::new()).unwrap()
}

async fn sample(
    url: &str,
    options: &ClientOptions,
) -> Result<Response, crate::probe::failure::Failure> {
    HttpsClient::new(url, options).unwrap().send(get(url)).await
}

#[tokio::test]
async fn a_valid_chain_answers_and_the_body_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let server = Server::start(Some(server_config(&ca.issue(&["127.0.0.1"], false), None))).await;
    let spec = trusting(&ca.write(dir.path(), "ca.pem"));
    let response = sample(&server.url("https"), &options(Some(spec), false))
        .await
        .expect("valid chain");
    assert_eq!(response.status, 200);
    let check = BodyCheck::compile(&ExpectBodySpec {
        json_pointer: Some("/status".into()),
        equals: Some("up".into()),
        ..ExpectBodySpec::default()
    })
    .unwrap();
    check.check(&response.body).expect("body matches");
}

#[tokio::test]
async fn certificate_problems_are_tls_failures_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let cases = [
        (
            ca.issue(&["other.example"], false),
            "certificate name mismatch",
        ),
        (ca.issue(&["127.0.0.1"], true), "certificate expired"),
        (
            Ca::new("stranger").issue(&["127.0.0.1"], false),
            "certificate signed by an unknown CA",
        ),
    ];
    for (leaf, reason) in cases {
        let server = Server::start(Some(server_config(&leaf, None))).await;
        let failure = sample(
            &server.url("https"),
            &options(Some(trusting(&ca_file)), false),
        )
        .await
        .expect_err(reason);
        assert_eq!(failure.class, FailureClass::Tls, "{failure}");
        assert_eq!(failure.detail, reason);
    }
}

#[tokio::test]
async fn system_roots_are_the_default_and_do_not_know_a_private_ca() {
    let ca = Ca::new("private ca");
    let server = Server::start(Some(server_config(&ca.issue(&["127.0.0.1"], false), None))).await;
    let failure = sample(&server.url("https"), &options(None, false))
        .await
        .expect_err("private CA is not a system root");
    assert_eq!(failure.class, FailureClass::Tls);
    assert_eq!(failure.detail, "certificate signed by an unknown CA");
}

#[tokio::test]
async fn server_name_overrides_the_url_host_and_insecure_accepts_anything() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let server = Server::start(Some(server_config(
        &ca.issue(&["svc.internal"], false),
        None,
    )))
    .await;
    let named = TlsSpec {
        server_name: Some("svc.internal".into()),
        ..trusting(&ca.write(dir.path(), "ca.pem"))
    };
    let response = sample(&server.url("https"), &options(Some(named), false)).await;
    assert_eq!(response.expect("server_name matches").status, 200);

    let bad = Ca::new("stranger").issue(&["elsewhere"], true);
    let bad_server = Server::start(Some(server_config(&bad, None))).await;
    let insecure = TlsSpec {
        insecure: true,
        ..TlsSpec::default()
    };
    let response = sample(&bad_server.url("https"), &options(Some(insecure), false)).await;
    assert_eq!(
        response.expect("insecure accepts any certificate").status,
        200
    );
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let server_leaf = ca.issue(&["127.0.0.1"], false);
    let server = Server::start(Some(server_config(&server_leaf, Some(&ca)))).await;
    let (client_cert, client_key) = ca.issue(&["probe"], false).write(dir.path(), "client");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let with_identity = TlsSpec {
        client_cert: Some(client_cert),
        client_key: Some(client_key),
        ..trusting(&ca_file)
    };
    let response = sample(&server.url("https"), &options(Some(with_identity), false)).await;
    assert_eq!(response.expect("client certificate accepted").status, 200);

    let failure = sample(
        &server.url("https"),
        &options(Some(trusting(&ca_file)), false),
    )
    .await
    .expect_err("no client certificate");
    assert_eq!(failure.class, FailureClass::Tls, "{failure}");
    assert_eq!(failure.detail, "server requires a client certificate");
}

#[tokio::test]
async fn a_new_connection_per_sample_unless_reuse_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test ca");
    let server = Server::start(Some(server_config(&ca.issue(&["127.0.0.1"], false), None))).await;
    let spec = trusting(&ca.write(dir.path(), "ca.pem"));
    let url = server.url("https");

    let fresh = HttpsClient::new(&url, &options(Some(spec.clone()), false)).unwrap();
    for _ in 0..5 {
        assert_eq!(fresh.send(get(&url)).await.unwrap().status, 200);
    }
    assert_eq!(server.accepted(), 5, "one connection per sample");

    let pooled = HttpsClient::new(&url, &options(Some(spec), true)).unwrap();
    for _ in 0..5 {
        assert_eq!(pooled.send(get(&url)).await.unwrap().status, 200);
    }
    assert_eq!(
        server.accepted(),
        6,
        "one connection for five reused samples"
    );
}

#[tokio::test]
async fn plain_http_refused_and_timeout_are_classed() {
    let server = Server::start(None).await;
    let url = server.url("http");
    assert_eq!(
        sample(&url, &options(None, false)).await.unwrap().status,
        200
    );

    let slow = format!("http://127.0.0.1:{}/slow", server.port);
    let quick = ClientOptions {
        timeout: Duration::from_millis(200),
        ..options(None, false)
    };
    let failure = sample(&slow, &quick).await.expect_err("never answers");
    assert_eq!(failure.class, FailureClass::Timeout);

    let closed = format!("http://127.0.0.1:{}/", free_port());
    let failure = sample(&closed, &options(None, false))
        .await
        .expect_err("nobody listens");
    assert_eq!(failure.class, FailureClass::Refused);
    assert_eq!(failure.detail, "connection refused");
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_failure() {
    let server = Server::start(None).await;
    let failure = sample(&server.url("https"), &options(None, false))
        .await
        .expect_err("not TLS");
    assert_eq!(failure.class, FailureClass::Tls, "{failure}");
}

#[test]
fn bad_options_are_setup_errors() {
    let tls = Some(TlsSpec::default());
    let plain = HttpsClient::new("http://127.0.0.1:1/", &options(tls, false));
    assert!(matches!(plain, Err(SetupError::TlsForPlainHttp(_))));
    let half = TlsSpec {
        client_cert: Some("/nonexistent.pem".into()),
        ..TlsSpec::default()
    };
    let half = HttpsClient::new("https://127.0.0.1:1/", &options(Some(half), false));
    assert!(matches!(half, Err(SetupError::HalfIdentity)));
    let missing = trusting(Path::new("/nonexistent/ca.pem"));
    let missing = HttpsClient::new("https://127.0.0.1:1/", &options(Some(missing), false));
    assert!(matches!(missing, Err(SetupError::Read { .. })));
    let scheme = HttpsClient::new("ftp://127.0.0.1/", &options(None, false));
    assert!(matches!(scheme, Err(SetupError::BadUrl { .. })));
    let yaml = "ca_file: ca.pem\ninsecure: true\nverify: false";
    assert!(
        serde_yaml::from_str::<TlsSpec>(yaml).is_err(),
        "unknown keys are denied"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
