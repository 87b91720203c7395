//! `log`: writes one structured line through the host with interpolated metadata, and
//! exposes the metadata as `actions.ngrok.log.metadata`.

use super::{Compiler, Effect, RunCtx};
use crate::cel_env::ValueTemplate;
use crate::cel_env::convert::{cel_to_string, string_map};
use crate::model::LogLevel;
use crate::policy::yaml_tree::Node;

#[derive(Debug)]
pub struct Log {
    pub metadata: Vec<(String, ValueTemplate)>,
}

impl Log {
    pub fn compile(config: Option<&Node>, path: &str, c: &mut Compiler<'_>) -> Option<Log> {
        let mut metadata = None;
        let mut ok = true;
        for (name, node, field) in c.fields(config, path, "log", &["metadata"]) {
            if name != "metadata" {
                continue;
            }
            let Some(entries) = node.as_map() else {
                c.error(
                    &field,
                    format!("`metadata` must be a map, found {}", node.kind()),
                );
                ok = false;
                continue;
            };
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let value_path = crate::policy::index::join_key(&field, &key.name);
                match c.value_template(value, &value_path) {
                    Some(t) => out.push((key.name.clone(), t)),
                    None => ok = false,
                }
            }
            metadata = Some(out);
        }
        if !ok {
            return None;
        }
        match metadata {
            Some(m) if !m.is_empty() => Some(Log { metadata: m }),
            _ => {
                c.error(
                    path,
                    "`log` requires `config.metadata` with at least one entry",
                );
                None
            }
        }
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        let mut rendered = Vec::with_capacity(self.metadata.len());
        {
            let act = ctx.activation();
            for (key, template) in &self.metadata {
                rendered.push((key.clone(), template.render(ctx.ev, &act)?));
            }
        }
        let fields = rendered
            .iter()
            .map(|(k, v)| Ok((k.clone(), cel_to_string(v)?)))
            .collect::<Result<Vec<_>, String>>()?;
        ctx.host.log(LogLevel::Info, "traffic policy log", &fields);
        ctx.set_result(
            "log",
            string_map([("metadata".to_string(), string_map(rendered))]),
        );
        Ok(Effect::Continue)
    }
}
