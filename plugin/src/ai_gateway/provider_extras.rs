//! What a provider adds to its own attempts (ours; docs/ai-gateway.md, "Provider headers,
//! query parameters and auth"): its `headers` and `query_params`, compiled at load with the
//! same `${…}` templates as the action's, and its `auth`.
//!
//! Per request, [`ProviderExtras::render_over`] renders them over the action's rendered
//! values; a provider's value wins over the action's of the same name.

use super::attempt_templates::templates_of;
use super::config::ProviderConfig;
use super::env::{LoadEnv, RequestEnv};
use super::key_auth::KeyAuth;
use super::templates::Template;
use crate::policy::Diagnostics;

/// Rendered (name, value) pairs.
pub type Pairs = Vec<(String, String)>;

/// A provider's own `headers`, `query_params` and `auth`.
#[derive(Debug, Clone, Default)]
pub struct ProviderExtras {
    /// (lower-cased header name, value).
    pub headers: Vec<(String, Template)>,
    pub query_params: Vec<(String, Template)>,
    /// How its configured keys are sent; `None`: the request format's own way.
    pub auth: Option<KeyAuth>,
}

impl ProviderExtras {
    /// Runs at load inside `providers[i]`: every field that fails is reported at its path
    /// and left out.
    pub(super) fn compile(
        pc: &ProviderConfig,
        env: &mut dyn LoadEnv,
        d: &mut Diagnostics,
    ) -> ProviderExtras {
        ProviderExtras {
            headers: templates_of("headers", &pc.headers, env, d, true),
            query_params: templates_of("query_params", &pc.query_params, env, d, false),
            auth: KeyAuth::from_config(pc.auth.as_ref(), d),
        }
    }

    /// The action's rendered `headers` and `query_params` with this provider's rendered over
    /// them, or `None` when the provider adds none (its attempts share the action's).
    /// `Err` is the text of a `${…}` that failed.
    pub fn render_over(
        &self,
        headers: &[(String, String)],
        query: &[(String, String)],
        env: &dyn RequestEnv,
    ) -> Result<Option<(Pairs, Pairs)>, String> {
        if self.headers.is_empty() && self.query_params.is_empty() {
            return Ok(None);
        }
        Ok(Some((
            over(headers, &self.headers, env)?,
            over(query, &self.query_params, env)?,
        )))
    }
}

/// `base` without the names `own` sets, then `own` rendered, in order.
fn over(
    base: &[(String, String)],
    own: &[(String, Template)],
    env: &dyn RequestEnv,
) -> Result<Pairs, String> {
    let mut out: Pairs = base
        .iter()
        .filter(|(k, _)| !own.iter().any(|(o, _)| o == k))
        .cloned()
        .collect();
    for (k, t) in own {
        out.push((k.clone(), t.render_string(env)?));
    }
    Ok(out)
}
