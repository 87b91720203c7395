//! The edge server started in-process (`edge::server::start`) on loopback with a policy file
//! in its own temp dir and the run's shared plugin cache, plus a client for it.

use edge::server::{RunningEdge, ServeConfig, start};
use edge_test_support::paths::plugin_cache_dir;

pub struct InProcessEdge {
    pub edge: RunningEdge,
    pub client: reqwest::Client,
    /// Holds `policy.yaml`; removed when the edge is dropped.
    dir: tempfile::TempDir,
}

impl InProcessEdge {
    /// Writes `policy`, lets `tweak` adjust the config, starts the edge.
    pub async fn start(policy: &str, tweak: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("edge-in-process-")
            .tempdir()
            .unwrap();
        let file = dir.path().join("policy.yaml");
        std::fs::write(&file, policy).unwrap();
        let mut cfg = ServeConfig::new(&file);
        // Shared by every edge of the run so the plugin is compiled once.
        cfg.cache_dir = Some(plugin_cache_dir());
        tweak(&mut cfg);
        let edge = start(cfg).await.unwrap();
        Self {
            edge,
            client: reqwest::Client::new(),
            dir,
        }
    }

    /// The temp dir holding `policy.yaml`.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.edge.addr, path)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("http://{}{}", self.edge.admin_addr, path)
    }

    /// The admin `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.admin("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.edge.shutdown().await;
    }
}
