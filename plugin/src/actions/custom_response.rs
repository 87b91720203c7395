//! `custom-response`: answer with a configured status, headers and body (all of which may
//! interpolate `${…}`). In `on_http_response` it replaces the upstream's response.

use super::{Compiler, Effect, RunCtx};
use crate::cel_env::Template;
use crate::model::Response;
use crate::policy::yaml_tree::Node;

#[derive(Debug)]
pub struct CustomResponse {
    pub status: u16,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
}

const DEFAULT_STATUS: u16 = 200;
/// ngrok's limit on configured headers per action.
const MAX_HEADERS: usize = 10;

impl CustomResponse {
    pub fn compile(
        config: Option<&Node>,
        path: &str,
        c: &mut Compiler<'_>,
    ) -> Option<CustomResponse> {
        let mut out = CustomResponse {
            status: DEFAULT_STATUS,
            headers: Vec::new(),
            body: None,
        };
        let mut ok = true;
        // `content` is the older name of `body`.
        for (name, node, field) in c.fields(
            config,
            path,
            "custom-response",
            &["status_code", "body", "content", "headers"],
        ) {
            match name {
                "status_code" => match c.int(node, &field, 200..=599) {
                    Some(s) => out.status = u16::try_from(s).unwrap_or(DEFAULT_STATUS),
                    None => ok = false,
                },
                "body" | "content" => {
                    if out.body.is_some() {
                        c.error(&field, "give either `body` or `content`, not both");
                        ok = false;
                    }
                    match c.template(node, &field) {
                        Some(t) => out.body = Some(t),
                        None => ok = false,
                    }
                }
                "headers" => match compile_header_map(node, &field, c) {
                    Some(h) => out.headers = h,
                    None => ok = false,
                },
                _ => {}
            }
        }
        ok.then_some(out)
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        let act = ctx.activation();
        let body = match &self.body {
            Some(t) => ctx.ev.render_string(t, &act)?,
            None => String::new(),
        };
        let mut headers = Vec::with_capacity(self.headers.len() + 1);
        for (name, value) in &self.headers {
            headers.push((name.clone(), ctx.ev.render_string(value, &act)?));
        }
        if !body.is_empty() && !headers.iter().any(|(k, _)| k == "content-type") {
            headers.push((
                "content-type".to_string(),
                infer_content_type(&body).to_string(),
            ));
        }
        Ok(Effect::Respond(Response {
            status: self.status,
            headers,
            body: body.into_bytes(),
        }))
    }
}

/// A `headers` map of name -> `${…}` template; names lower-cased, at most 10.
pub fn compile_header_map(
    node: &Node,
    path: &str,
    c: &mut Compiler<'_>,
) -> Option<Vec<(String, Template)>> {
    let Some(entries) = node.as_map() else {
        c.error(
            path,
            format!(
                "`headers` must be a map of name to value, found {}",
                node.kind()
            ),
        );
        return None;
    };
    if entries.len() > MAX_HEADERS {
        c.error(
            path,
            format!("at most {MAX_HEADERS} headers, found {}", entries.len()),
        );
        return None;
    }
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (key, value) in entries {
        let field = crate::policy::index::join_key(path, &key.name);
        if !is_header_name(&key.name) {
            c.error(&field, format!("`{}` is not a valid header name", key.name));
            ok = false;
            continue;
        }
        match c.template(value, &field) {
            Some(t) => out.push((key.name.to_ascii_lowercase(), t)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// RFC 9110 token characters.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// JSON when the body parses as JSON, HTML when it looks like markup, plain text otherwise.
fn infer_content_type(body: &str) -> &'static str {
    let trimmed = body.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(body).is_ok()
    {
        "application/json"
    } else if trimmed.starts_with('<') {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}
