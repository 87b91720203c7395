//! `edge check` warnings for providers the edge would refuse to call: a plain `http://`
//! `base_url` whose host is not registered with `--internal` (or `--demo`). Runs after each
//! policy file loads under `edge check`, with the `.internal` table the same flags build, and
//! applies the very rule the attempts apply ([`InternalHosts::plain_http_refused`]).

use crate::gateway::InternalHosts;
use crate::policy_state::DiagnosticView;
use crate::wit::types::ProviderUrl;

/// One warning per provider URL the table refuses, at the URL's position.
pub fn unregistered_plain_http(urls: &[ProviderUrl], hosts: &InternalHosts) -> Vec<DiagnosticView> {
    urls.iter()
        .filter_map(|u| {
            let host = hosts.plain_http_refused(&u.url)?;
            Some(DiagnosticView {
                severity: "warning",
                message: format!(
                    "plain http:// to {host} is not registered: attempts to this provider fail \
                     until the edge runs with --internal {host}=HOST:PORT (or use https://)"
                ),
                line: u.line,
                column: u.column,
                path: u.path.clone(),
            })
        })
        .collect()
}
