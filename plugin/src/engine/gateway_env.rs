//! The `ai-gateway` action's view of the engine: its load-time and per-request
//! environments (the seam in `ai_gateway::env`), over the engine's CEL.

use crate::ai_gateway::{LoadEnv, RequestEnv, TemplateId};
use crate::cel_env::convert::cel_to_json;
use crate::cel_env::{Activation, CelEnv, Evaluator, Scope, Template};
use crate::host_api::HostApi;

/// [`LoadEnv`] over the engine's CEL environment. Templates compiled for the action are
/// kept by the engine; their ids index `templates`.
pub struct GatewayLoadEnv<'a> {
    pub cel: &'a mut CelEnv,
    pub host: &'a dyn HostApi,
    pub templates: &'a mut Vec<Template>,
    /// Warnings the CEL environment raised (missing secrets under `edge check`).
    pub warnings: Vec<String>,
}

impl LoadEnv for GatewayLoadEnv<'_> {
    fn compile_template(&mut self, text: &str) -> Result<TemplateId, String> {
        let compiled = self.cel.compile_template(text, Scope::Request, self.host);
        self.warnings.extend(self.cel.take_warnings());
        let template = compiled?;
        let id =
            u32::try_from(self.templates.len()).map_err(|_| "too many templates".to_string())?;
        self.templates.push(template);
        Ok(TemplateId(id))
    }

    fn eval_static(&mut self, text: &str) -> Result<String, String> {
        let compiled = self.cel.compile_template(text, Scope::Request, self.host);
        self.warnings.extend(self.cel.take_warnings());
        self.cel.render_static(&compiled?)
    }

    fn host(&self) -> &dyn HostApi {
        self.host
    }

    fn check_only(&self) -> bool {
        self.cel.check_only()
    }
}

/// [`RequestEnv`] for one request: the engine's templates and the request's variables.
pub struct GatewayRequestEnv<'a, 'd> {
    pub ev: &'a Evaluator,
    pub templates: &'a [Template],
    pub act: Activation<'a, 'd>,
}

impl RequestEnv for GatewayRequestEnv<'_, '_> {
    fn render(&self, id: TemplateId) -> Result<serde_json::Value, String> {
        let template = usize::try_from(id.0)
            .ok()
            .and_then(|i| self.templates.get(i))
            .ok_or_else(|| format!("unknown template {}", id.0))?;
        cel_to_json(&self.ev.render(template, &self.act)?)
    }

    fn variable(&self, name: &str) -> Option<cel::Value> {
        self.act.value(name)
    }
}
