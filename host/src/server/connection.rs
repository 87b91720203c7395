//! Facts about one client connection, shared by every request on it (`conn.*` in policies).

use std::net::SocketAddr;

use crate::wit::types::{Connection, TlsInfo};

#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Present when the edge terminated TLS on this connection.
    pub tls: Option<TlsInfo>,
}

impl ConnInfo {
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The WIT record handed to the plugin with each request.
    pub fn to_wit(&self) -> Connection {
        Connection {
            client_ip: self.client.ip().to_canonical().to_string(),
            client_port: self.client.port(),
            server_ip: self.server.ip().to_canonical().to_string(),
            server_port: self.server.port(),
            tls: self.tls.clone(),
        }
    }
}
