//! Accept loop shared by the public and the admin listener: TCP (optionally TLS), HTTP/1.1
//! and HTTP/2 on one port, a cap on open connections, slow-client protection (the head
//! deadline here, the body pace in `body_pace.rs`), the idle timeout, and graceful draining
//! on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::connection::ConnInfo;
use super::connection_activity::{ConnActivity, TrackedBody};
use super::connection_slots::{ConnectionSlot, ConnectionSlots, refuse};
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
    /// A connection with no request in flight for this long is closed (gracefully: HTTP/2
    /// gets a GOAWAY). For HTTP/1.1 the header read timeout closes idle keep-alive
    /// connections sooner when it is shorter.
    pub idle_timeout: Duration,
    /// Open connections this listener holds at once, and their metrics.
    pub slots: Arc<ConnectionSlots>,
}

/// Runs the accept loop until `shutdown` turns true, then stops accepting and drains the
/// open connections for up to `shutdown_grace`.
pub async fn serve<H: RequestHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    opts: ListenerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = Arc::new(http_builder(opts.header_read_timeout));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let Some(slot) = opts.slots.try_take() else {
                        tracing::warn!(%client, open = opts.slots.open(), "connection limit reached; refusing a connection");
                        tokio::spawn(refuse(stream, opts.tls.is_some()));
                        continue;
                    };
                    let server = stream.local_addr().unwrap_or(client);
                    let task = serve_connection(
                        stream, client, server, handler.clone(), builder.clone(), opts.clone(), slot, shutdown.clone(),
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
    if tokio::time::timeout(opts.shutdown_grace, opts.slots.all_closed())
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

/// Serves one connection until it ends, is closed for a timeout, or the edge shuts down;
/// `slot` is its place under the listener's cap, released when this returns.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different concern
async fn serve_connection<H: RequestHandler>(
    stream: TcpStream,
    client: SocketAddr,
    server: SocketAddr,
    handler: Arc<H>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    opts: ListenerOptions,
    _slot: ConnectionSlot,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = ConnActivity::new();
    let limits = ConnLimits {
        first_request_by: Instant::now() + opts.header_read_timeout,
        idle_timeout: opts.idle_timeout,
    };
    match opts.tls {
        None => {
            let conn = Arc::new(ConnInfo {
                client,
                server,
                tls: None,
            });
            let svc = ConnService {
                handler,
                conn,
                activity: activity.clone(),
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
            drive(connection.into_owned(), &limits, &activity, shutdown).await;
        }
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout_at(limits.first_request_by, acceptor.accept(stream));
            let tls_stream = match handshake.await {
                Ok(Ok(s)) => s,
                Ok(Err(err)) => {
                    tracing::debug!(%client, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
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
            let svc = ConnService {
                handler,
                conn,
                activity: activity.clone(),
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), svc);
            drive(connection.into_owned(), &limits, &activity, shutdown).await;
        }
    }
}

/// The deadlines of one connection.
struct ConnLimits {
    /// A connection that has not sent a request head by then is closed. hyper's own header
    /// timeout does not cover the protocol sniffing of the auto builder (nor the TLS
    /// handshake), so a client that connects and sends nothing would otherwise stay forever.
    first_request_by: Instant,
    idle_timeout: Duration,
}

/// Runs the connection to its end. Closes it outright when no request head arrived in time,
/// and gracefully (letting requests in flight finish) when it has been idle for
/// `idle_timeout` or the edge shuts down.
async fn drive<C>(
    connection: C,
    limits: &ConnLimits,
    activity: &ConnActivity,
    mut shutdown: watch::Receiver<bool>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(connection);
    let first_request = tokio::time::sleep_until(limits.first_request_by);
    let idle = tokio::time::sleep(limits.idle_timeout);
    tokio::pin!(first_request, idle);
    let mut waiting_for_first = true;
    let mut closing = false;
    loop {
        tokio::select! {
            res = &mut connection => {
                if let Err(err) = res {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            () = &mut first_request, if waiting_for_first => {
                if activity.saw_request() {
                    waiting_for_first = false;
                } else {
                    tracing::debug!("no request head within the header read timeout; closing");
                    return;
                }
            }
            () = &mut idle, if !closing => match activity.idle_since() {
                Some(since) if since.elapsed() >= limits.idle_timeout => {
                    tracing::debug!("connection idle for the idle timeout; closing");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                Some(since) => idle.as_mut().reset(since + limits.idle_timeout),
                // A request is in flight: look again one timeout from now.
                None => idle.as_mut().reset(Instant::now() + limits.idle_timeout),
            },
            changed = shutdown.changed(), if !closing => {
                if changed.is_err() || *shutdown.borrow() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// The hyper service of one connection: hands each request to the handler with the
/// connection's facts, and keeps the request in flight until its response body is done.
struct ConnService<H> {
    handler: Arc<H>,
    conn: Arc<ConnInfo>,
    activity: Arc<ConnActivity>,
}

impl<H> Clone for ConnService<H> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            conn: self.conn.clone(),
            activity: self.activity.clone(),
        }
    }
}

impl<H: RequestHandler> hyper::service::Service<Request<Incoming>> for ConnService<H> {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        let fut = self.handler.clone().handle(self.conn.clone(), req);
        Box::pin(async move {
            let res = fut.await;
            Ok(res.map(|body| TrackedBody::new(body, in_flight).boxed()))
        })
    }
}
