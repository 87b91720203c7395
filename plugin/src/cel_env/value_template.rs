//! Structured config values whose strings may hold `${…}` (set-vars values, log metadata,
//! custom-response bodies given as maps): compiled at load, rendered to a CEL value per
//! request.

use std::sync::Arc;

use cel::Value;

use super::convert::string_map;
use super::{Activation, Evaluator, Template};

#[derive(Debug, Clone)]
pub enum ValueTemplate {
    /// A number, boolean or null written in YAML.
    Constant(Value),
    Str(Template),
    List(Vec<ValueTemplate>),
    Map(Vec<(String, ValueTemplate)>),
}

impl ValueTemplate {
    pub fn render(&self, ev: &Evaluator, act: &Activation<'_, '_>) -> Result<Value, String> {
        match self {
            ValueTemplate::Constant(v) => Ok(v.clone()),
            ValueTemplate::Str(t) => ev.render(t, act),
            ValueTemplate::List(items) => {
                let values = items
                    .iter()
                    .map(|i| i.render(ev, act))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::List(Arc::new(values)))
            }
            ValueTemplate::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((k.clone(), v.render(ev, act)?));
                }
                Ok(string_map(out))
            }
        }
    }
}
