//! The built-in demo provider (`edge serve --demo`): a deterministic OpenAI- and
//! Anthropic-format responder on an ephemeral loopback port, registered as `demo.internal`
//! so `policies/quickstart.yaml` works with no keys and no second process.
//!
//! The contract (routes, the `demo-key` credential, the `fail-<status>` models) is
//! `docs/demo-provider.md`. Nothing it receives is logged or stored.

mod anthropic;
mod errors;
mod openai;
mod routes;
mod sse;
mod text;

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::gateway::InternalHosts;

/// The host name the demo provider is registered under.
pub const DEMO_HOST: &str = "demo.internal";
/// The only API key the demo provider accepts.
pub const DEMO_KEY: &str = "demo-key";

/// A running demo provider. Dropping it stops the server.
#[derive(Debug)]
pub struct DemoProvider {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DemoProvider {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving (HTTP/1.1 and h2c).
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener));
        Ok(Self { addr, task })
    }

    /// The loopback address the demo provider listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `(name, address)` pair to add to the gateway's `.internal` table.
    pub fn internal_host(&self) -> (String, SocketAddr) {
        (DEMO_HOST.to_owned(), self.addr)
    }

    /// Registers `demo.internal` in a live `.internal` table.
    pub fn register(&self, hosts: &InternalHosts) {
        hosts.add(DEMO_HOST, self.addr);
    }
}

impl Drop for DemoProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Accept errors (e.g. out of file descriptors) are transient; back off a bit.
                tracing::warn!(error = %err, "demo provider: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(routes::handle);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(err) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "demo provider: connection ended with an error");
            }
        });
    }
}
