//! `set-vars`: binds `vars.<name>` for the rest of the phase. Values may interpolate `${…}`
//! (a whole `${expr}` keeps its type) and may read variables set before them.

use super::{Compiler, Effect, RunCtx};
use crate::cel_env::ValueTemplate;
use crate::policy::yaml_tree::Node;

#[derive(Debug)]
pub struct SetVars {
    pub vars: Vec<(String, ValueTemplate)>,
}

impl SetVars {
    pub fn compile(config: Option<&Node>, path: &str, c: &mut Compiler<'_>) -> Option<SetVars> {
        let mut vars = Vec::new();
        let mut seen = false;
        let mut ok = true;
        for (name, node, field) in c.fields(config, path, "set-vars", &["vars"]) {
            if name != "vars" {
                continue;
            }
            seen = true;
            let Some(items) = c.list(node, &field) else {
                ok = false;
                continue;
            };
            for (item, item_path) in items {
                match item.as_map() {
                    Some([(key, value)]) => {
                        if !is_identifier(&key.name) {
                            c.error(
                                &item_path,
                                format!(
                                    "`{}` is not a valid variable name (letters, digits, `_`)",
                                    key.name
                                ),
                            );
                            ok = false;
                            continue;
                        }
                        let value_path = crate::policy::index::join_key(&item_path, &key.name);
                        match c.value_template(value, &value_path) {
                            Some(t) => vars.push((key.name.clone(), t)),
                            None => ok = false,
                        }
                    }
                    _ => {
                        c.error(
                            &item_path,
                            "each entry of `vars` must be a map with exactly one key",
                        );
                        ok = false;
                    }
                }
            }
        }
        if ok && (!seen || vars.is_empty()) {
            c.error(
                path,
                "`set-vars` requires `config.vars` with at least one variable",
            );
            ok = false;
        }
        ok.then_some(SetVars { vars })
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        for (name, template) in &self.vars {
            let value = {
                let act = ctx.activation();
                template.render(ctx.ev, &act)?
            };
            ctx.bindings.vars.insert(name.clone(), value);
        }
        Ok(Effect::Continue)
    }
}

fn is_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
