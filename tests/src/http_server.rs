//! The serve loop shared by every loopback test server (echo upstream, mock providers, the
//! benchmark's baseline proxy): plain or TLS, HTTP/1.1 and HTTP/2, one task per connection.
//!
//! Connection tasks live in a `JoinSet` owned by the accept loop. `stop()` ends the loop,
//! aborts open connections (a deliberately stalled stream would otherwise hang forever) and
//! reports any handler panic as an error, so a broken mock fails the test that used it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::{HarnessError, Result};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;
pub type BoxFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
/// A request handler: gets the request and whether it arrived over TLS.
pub type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFuture + Send + Sync>;

/// A body already in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON response with the given status.
pub fn json_response(status: u16, value: &serde_json::Value) -> Response<Body> {
    json_text_response(status, value.to_string())
}

/// A response with the given status whose body is `text` as is, labelled `application/json`
/// (mock answers that must reach the client byte for byte, valid JSON or not).
pub fn json_text_response(status: u16, text: String) -> Response<Body> {
    let mut res = Response::new(full(text));
    *res.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

/// A running loopback server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub tls: bool,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Vec<String>>>,
    panics: Arc<Mutex<Vec<String>>>,
}

impl ServerHandle {
    /// Binds 127.0.0.1 on an ephemeral port and serves `handler`, over TLS when `tls` is set.
    pub async fn start(handler: Handler, tls: Option<Arc<rustls::ServerConfig>>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop_rx) = watch::channel(false);
        let panics = Arc::new(Mutex::new(Vec::new()));
        let is_tls = tls.is_some();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            let mut conns: JoinSet<()> = JoinSet::new();
            let mut failures = Vec::new();
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _peer)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let handler = handler.clone();
                        let acceptor = acceptor.clone();
                        conns.spawn(async move {
                            let service = service_fn(move |req| {
                                let fut = handler(req);
                                async move { Ok::<_, Infallible>(fut.await) }
                            });
                            let builder = auto::Builder::new(TokioExecutor::new());
                            match acceptor {
                                Some(acceptor) => {
                                    // A failed handshake is a legitimate outcome (the TLS-failure tests).
                                    if let Ok(tls) = acceptor.accept(stream).await {
                                        let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                                    }
                                }
                                None => {
                                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                                }
                            }
                        });
                    }
                    Some(done) = conns.join_next(), if !conns.is_empty() => {
                        if let Err(e) = done && e.is_panic() {
                            failures.push(format!("connection task panicked: {e}"));
                        }
                    }
                }
            }
            conns.abort_all();
            while let Some(done) = conns.join_next().await {
                if let Err(e) = done
                    && e.is_panic()
                {
                    failures.push(format!("connection task panicked: {e}"));
                }
            }
            failures
        });
        Ok(Self {
            addr,
            tls: is_tls,
            shutdown,
            task: Some(task),
            panics,
        })
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops serving, drops open connections, and fails if any handler panicked.
    pub async fn stop(mut self) -> Result<()> {
        let _ = self.shutdown.send(true);
        let mut failures = match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| HarnessError::ServerTask(e.to_string()))?,
            None => Vec::new(),
        };
        if let Ok(mut p) = self.panics.lock() {
            failures.append(&mut p);
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(HarnessError::ServerTask(failures.join("; ")))
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// A loopback port with nothing listening on it (connection refused), found by binding an
/// ephemeral port and closing it again.
pub fn closed_port() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    drop(l);
    Ok(addr)
}
