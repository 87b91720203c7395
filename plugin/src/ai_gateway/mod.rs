//! The `ai-gateway` action: providers, model selection, failover rules, error bodies.
//!
//! The engine calls, in this order:
//! - at load: `AiGateway::compile(config: &serde_json::Value, env: &mut dyn LoadEnv)
//!   -> Result<AiGateway, Vec<Diagnostic>>` (diagnostic paths are relative to `config`,
//!   e.g. `providers[1].base_url`; line/column 0, the engine locates them);
//! - per request: `AiGateway::plan(&self, req: &Request, env: &dyn RequestEnv,
//!   host: &dyn HostApi) -> GatewayStep`;
//! - per failed attempt of a plan with `custom_failover`: `AiGateway::classify_failure(
//!   &self, continuation: &[u8], failed: &AttemptResult) -> FailoverAction`;
//! - when the attempt loop ended without serving the client: `AiGateway::finish(&self,
//!   continuation: &[u8], outcome: &GatewayOutcome) -> Finish`.

pub mod env;

pub use env::{Finish, GatewayStep, LoadEnv, RequestEnv, TemplateId, REQUEST_VARIABLES};
