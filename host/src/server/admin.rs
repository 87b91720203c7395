//! Admin listener (its own port, default 127.0.0.1:9090, never the public one):
//! `/healthz` (the process answers), `/readyz` (a policy is loaded), `/metrics`
//! (Prometheus text) and `/policy` (hash, load time, last load error with diagnostics).

use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::connection::ConnInfo;
use super::listener::RequestHandler;
use crate::body::{ResponseBody, full};
use crate::metrics::EdgeMetrics;
use crate::policy_state::PolicyState;

/// Serves the admin endpoints from the edge's shared state.
pub struct AdminHandler<P> {
    pub policy: Arc<PolicyState<P>>,
    pub metrics: Arc<EdgeMetrics>,
}

impl<P: Send + Sync + 'static> RequestHandler for AdminHandler<P> {
    fn handle(
        self: Arc<Self>,
        _conn: Arc<ConnInfo>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + 'static {
        let res = self.route(req.method(), req.uri().path());
        async move { res }
    }
}

impl<P> AdminHandler<P> {
    fn route(&self, method: &Method, path: &str) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        }
        match path {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => {
                if self.policy.is_loaded() {
                    text(StatusCode::OK, "ready\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "no policy loaded\n")
                }
            }
            "/metrics" => match self.metrics.encode() {
                Ok(body) => with_type(
                    StatusCode::OK,
                    body,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "metrics encoding failed\n",
                ),
            },
            "/policy" => match serde_json::to_string_pretty(&*self.policy.status()) {
                Ok(body) => with_type(StatusCode::OK, body, "application/json"),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "status encoding failed\n",
                ),
            },
            _ => text(
                StatusCode::NOT_FOUND,
                "not found; try /healthz /readyz /metrics /policy\n",
            ),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<ResponseBody> {
    with_type(status, body.to_owned(), "text/plain; charset=utf-8")
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<ResponseBody> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(res: Response<ResponseBody>) -> String {
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn readyz_follows_policy_and_policy_reports_errors() {
        let admin = AdminHandler {
            policy: Arc::new(PolicyState::<u8>::new("p.yaml".into())),
            metrics: Arc::new(EdgeMetrics::new()),
        };
        assert_eq!(admin.route(&Method::GET, "/healthz").status(), 200);
        assert_eq!(admin.route(&Method::GET, "/readyz").status(), 503);
        admin.policy.install(1, "abc".into(), vec![]);
        assert_eq!(admin.route(&Method::GET, "/readyz").status(), 200);
        admin
            .policy
            .record_failure(crate::policy_state::LoadFailure {
                at_ms: 5,
                hash: None,
                message: "1 error".into(),
                diagnostics: vec![crate::policy_state::DiagnosticView {
                    severity: "error",
                    message: "bad".into(),
                    line: 2,
                    column: 3,
                    path: "on_http_request".into(),
                }],
            });
        let v: serde_json::Value =
            serde_json::from_str(&body(admin.route(&Method::GET, "/policy")).await).unwrap();
        assert_eq!(v["hash"], "abc");
        assert_eq!(v["last_error"]["diagnostics"][0]["line"], 2);
        assert!(
            body(admin.route(&Method::GET, "/metrics"))
                .await
                .contains("edge_policy_loaded")
        );
        assert_eq!(admin.route(&Method::GET, "/nope").status(), 404);
    }
}
