//! The `${…}`-capable config values (`headers`, `query_params`, `body`): compiled through
//! the engine at load, rendered through it per request.

use serde_json::Value as Json;

use super::env::{LoadEnv, RequestEnv, TemplateId};

/// A string config value: literal, or compiled by the engine when it holds `${`.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    Literal(String),
    Compiled(TemplateId),
}

impl Template {
    pub fn compile(text: &str, env: &mut dyn LoadEnv) -> Result<Template, String> {
        if text.contains("${") {
            env.compile_template(text).map(Template::Compiled)
        } else {
            Ok(Template::Literal(text.to_owned()))
        }
    }

    /// The value as a string (JSON values other than strings are written as JSON).
    pub fn render_string(&self, env: &dyn RequestEnv) -> Result<String, String> {
        match self {
            Template::Literal(s) => Ok(s.clone()),
            Template::Compiled(id) => Ok(match env.render(*id)? {
                Json::String(s) => s,
                other => other.to_string(),
            }),
        }
    }
}

/// Scalar config values other than strings are written as their JSON text.
pub fn scalar_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `body` config: its JSON with the string leaves that hold `${…}` compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyTemplate {
    pub fields: serde_json::Map<String, Json>,
    /// JSON pointer of each templated leaf (e.g. `/metadata/user`), and its template.
    pub templated: Vec<(String, TemplateId)>,
}

impl BodyTemplate {
    /// Compiles every `${…}` leaf. Errors carry the pointer of the leaf.
    pub fn compile(
        fields: &serde_json::Map<String, Json>,
        env: &mut dyn LoadEnv,
    ) -> Result<BodyTemplate, Vec<(String, String)>> {
        let mut out = BodyTemplate {
            fields: fields.clone(),
            templated: Vec::new(),
        };
        let mut errors = Vec::new();
        for (k, v) in fields {
            walk(
                v,
                &format!("/{}", escape(k)),
                env,
                &mut out.templated,
                &mut errors,
            );
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The top-level fields with every template rendered.
    pub fn render(&self, env: &dyn RequestEnv) -> Result<serde_json::Map<String, Json>, String> {
        if self.templated.is_empty() {
            return Ok(self.fields.clone());
        }
        let mut root = Json::Object(self.fields.clone());
        for (pointer, id) in &self.templated {
            let value = env.render(*id)?;
            if let Some(slot) = root.pointer_mut(pointer) {
                *slot = value;
            }
        }
        match root {
            Json::Object(m) => Ok(m),
            _ => Ok(serde_json::Map::new()),
        }
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(
    v: &Json,
    pointer: &str,
    env: &mut dyn LoadEnv,
    out: &mut Vec<(String, TemplateId)>,
    errors: &mut Vec<(String, String)>,
) {
    match v {
        Json::String(s) if s.contains("${") => match env.compile_template(s) {
            Ok(id) => out.push((pointer.to_owned(), id)),
            Err(e) => errors.push((pointer.to_owned(), e)),
        },
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{pointer}/{i}"), env, out, errors);
            }
        }
        Json::Object(map) => {
            for (k, item) in map {
                walk(item, &format!("{pointer}/{}", escape(k)), env, out, errors);
            }
        }
        _ => {}
    }
}
