//! `add-headers` and `remove-headers`: edit the headers of the upstream request (in
//! `on_http_request`) or of the client response (in `on_http_response`).

use super::custom_response::{compile_header_map, is_header_name};
use super::{Compiler, Effect, RunCtx};
use crate::cel_env::Template;
use crate::policy::yaml_tree::Node;

/// ngrok's limit on headers per action.
const MAX_HEADERS: usize = 10;

#[derive(Debug)]
pub struct AddHeaders {
    pub headers: Vec<(String, Template)>,
}

impl AddHeaders {
    pub fn compile(config: Option<&Node>, path: &str, c: &mut Compiler<'_>) -> Option<AddHeaders> {
        let mut headers = None;
        let mut ok = true;
        for (name, node, field) in c.fields(config, path, "add-headers", &["headers"]) {
            if name == "headers" {
                headers = compile_header_map(node, &field, c);
                ok &= headers.is_some();
            }
        }
        if !ok {
            return None;
        }
        match headers {
            Some(h) if !h.is_empty() => Some(AddHeaders { headers: h }),
            _ => {
                c.error(
                    path,
                    "`add-headers` requires `config.headers` with at least one header",
                );
                None
            }
        }
    }

    /// Appends each header (repeats are kept, as with any HTTP header list).
    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        let mut added = Vec::with_capacity(self.headers.len());
        {
            let act = ctx.activation();
            for (name, value) in &self.headers {
                added.push((name.clone(), ctx.ev.render_string(value, &act)?));
            }
        }
        for (name, value) in added {
            if value.contains(['\r', '\n']) {
                return Err(format!("header `{name}` value contains a line break"));
            }
            ctx.headers.push((name, value));
        }
        Ok(Effect::Continue)
    }
}

#[derive(Debug)]
pub struct RemoveHeaders {
    pub names: Vec<String>,
}

impl RemoveHeaders {
    pub fn compile(
        config: Option<&Node>,
        path: &str,
        c: &mut Compiler<'_>,
    ) -> Option<RemoveHeaders> {
        let mut names = Vec::new();
        let mut seen = false;
        let mut ok = true;
        for (name, node, field) in c.fields(config, path, "remove-headers", &["headers"]) {
            if name != "headers" {
                continue;
            }
            seen = true;
            let Some(items) = c.list(node, &field) else {
                ok = false;
                continue;
            };
            if items.len() > MAX_HEADERS {
                c.error(
                    &field,
                    format!("at most {MAX_HEADERS} headers, found {}", items.len()),
                );
                ok = false;
            }
            for (item, item_path) in items {
                match item.as_str() {
                    Some(n) if is_header_name(n) => names.push(n.to_ascii_lowercase()),
                    _ => {
                        c.error(&item_path, "expected a header name");
                        ok = false;
                    }
                }
            }
        }
        if ok && (!seen || names.is_empty()) {
            c.error(
                path,
                "`remove-headers` requires `config.headers` with at least one name",
            );
            ok = false;
        }
        ok.then_some(RemoveHeaders { names })
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Effect {
        ctx.headers.retain(|(k, _)| !self.names.contains(k));
        Effect::Continue
    }
}
