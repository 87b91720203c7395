//! Accept loop shared by the public and the admin listener: TCP (optionally TLS), HTTP/1.1
//! and HTTP/2 on one port, slow-client protection, and graceful draining on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::connection::ConnInfo;
use crate::body::ResponseBody;

/// Answers one request. Implemented by the public edge and the admin endpoints.
pub trait RequestHandler: Send + Sync + 'static {
    fn handle(
        self: Arc<Self>,
        conn: Arc<ConnInfo>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + 'static;
}

/// How one listener treats its connections.
#[derive(Clone)]
pub struct ListenerOptions {
    pub tls: Option<TlsAcceptor>,
    /// Bounds the TLS handshake plus the first request head of a new connection, and
    /// every later HTTP/1.1 request head (hyper's `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// Runs the accept loop until `shutdown` turns true, then stops accepting and drains the
/// open connections for up to `shutdown_grace`.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    opts: ListenerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(opts.header_read_timeout));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let server = stream.local_addr().unwrap_or(client);
                    let task = serve_connection(
                        stream, client, server, handler.clone(), builder.clone(), opts.clone(), graceful.watcher(),
                    );
                    tokio::spawn(task);
                }
                Err(err) => {
                    // Usually EMFILE; back off briefly instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(opts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?opts.shutdown_grace, "shutdown grace ran out; closing remaining connections");
    }
}

fn http_builder(header_read_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        // HTTP/2 connections stay open between requests; pinging an idle one every 30 s
        // (and dropping it if the ping is not answered in 10 s) frees sockets of peers
        // that vanished without closing.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

async fn serve_connection<H: RequestHandler>(
    stream: TcpStream,
    client: SocketAddr,
    server: SocketAddr,
    handler: Arc<H>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    opts: ListenerOptions,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    let first_request_seen = Arc::new(AtomicBool::new(false));
    let deadline = tokio::time::sleep(opts.header_read_timeout);
    tokio::pin!(deadline);
    match opts.tls {
        None => {
            let conn = Arc::new(ConnInfo {
                client,
                server,
                tls: None,
            });
            let svc = make_service(handler, conn, first_request_seen.clone());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            drive(
                watcher.watch(connection.into_owned()),
                deadline,
                &first_request_seen,
            )
            .await;
        }
        Some(acceptor) => {
            let tls_stream = tokio::select! {
                res = acceptor.accept(stream) => match res {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::debug!(%client, error = %err, "TLS handshake failed");
                        return;
                    }
                },
                () = &mut deadline => {
                    tracing::debug!(%client, "TLS handshake timed out");
                    return;
                }
            };
            let tls = Some(crate::tls::tls_info(tls_stream.get_ref().1));
            let conn = Arc::new(ConnInfo {
                client,
                server,
                tls,
            });
            let svc = make_service(handler, conn, first_request_seen.clone());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), svc);
            drive(
                watcher.watch(connection.into_owned()),
                deadline,
                &first_request_seen,
            )
            .await;
        }
    }
}

/// Runs the connection, dropping it (closing the socket) if no request head arrived before
/// `deadline`. hyper's own header timeout does not cover the protocol sniffing of the auto
/// builder, so a client that connects and sends nothing would otherwise stay forever.
async fn drive<F, E>(
    connection: F,
    deadline: std::pin::Pin<&mut tokio::time::Sleep>,
    first_request_seen: &AtomicBool,
) where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(connection);
    let mut deadline = deadline;
    let mut armed = true;
    loop {
        tokio::select! {
            res = &mut connection => {
                if let Err(err) = res {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            () = &mut deadline, if armed => {
                if first_request_seen.load(Ordering::Relaxed) {
                    armed = false;
                } else {
                    tracing::debug!("no request head within the header read timeout; closing");
                    return;
                }
            }
        }
    }
}

fn make_service<H: RequestHandler>(
    handler: Arc<H>,
    conn: Arc<ConnInfo>,
    first_request_seen: Arc<AtomicBool>,
) -> ConnService<H> {
    ConnService {
        handler,
        conn,
        first_request_seen,
    }
}

/// The hyper service of one connection: hands each request to the handler with the
/// connection's facts, and notes that a request head arrived.
struct ConnService<H> {
    handler: Arc<H>,
    conn: Arc<ConnInfo>,
    first_request_seen: Arc<AtomicBool>,
}

impl<H> Clone for ConnService<H> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            conn: self.conn.clone(),
            first_request_seen: self.first_request_seen.clone(),
        }
    }
}

impl<H: RequestHandler> hyper::service::Service<Request<Incoming>> for ConnService<H> {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        self.first_request_seen.store(true, Ordering::Relaxed);
        let fut = self.handler.clone().handle(self.conn.clone(), req);
        Box::pin(async move { Ok(fut.await) })
    }
}
