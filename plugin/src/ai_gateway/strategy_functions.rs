//! The functions strategies and failover rules add to the shared CEL environment (listed
//! in docs/ai-gateway.md): `only`, `ignore`,
//! `onlyProviders`, `ignoreProviders`, `onlyAuthors`, `ignoreAuthors`, `inRegion`,
//! `inCountryCode`, `underCost`, `sortBy('price')`, `random`, `randomize`, `get`,
//! `getModel`, `getMetadata`. The two-argument `sortBy(m, key)` is the lists extension's
//! macro. Registered once per policy load on the root context of each API format.

use std::sync::Arc;

use cel::extractors::{Arguments, This};
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, Value};
use rand::seq::SliceRandom;

/// Our function names: a strategy may call these and the standard ones
/// (`cel_env::names::STANDARD`); anything else is a load diagnostic.
pub const FUNCTIONS: &[&str] = &[
    "only",
    "ignore",
    "onlyProviders",
    "ignoreProviders",
    "onlyAuthors",
    "ignoreAuthors",
    "inRegion",
    "inCountryCode",
    "underCost",
    "sortBy",
    "random",
    "randomize",
    "get",
    "getModel",
    "getMetadata",
];

/// Registers every function of [`FUNCTIONS`] on a root context.
pub fn register(ctx: &mut Context<'static, 'static>) -> Result<(), String> {
    let e = |err: cel::DeclarationError| err.to_string();
    // `only(ids)` keeps the items whose id or an alias is one of `ids`; `ignore(ids)` drops
    // them; the others do the same on the provider's and the author's id.
    for (name, id_field, aliases_field, wanted) in [
        ("only", "id", "id_aliases", true),
        ("ignore", "id", "id_aliases", false),
        ("onlyProviders", "provider_id", "provider_id_aliases", true),
        (
            "ignoreProviders",
            "provider_id",
            "provider_id_aliases",
            false,
        ),
        ("onlyAuthors", "author_id", "author_id_aliases", true),
        ("ignoreAuthors", "author_id", "author_id_aliases", false),
    ] {
        ctx.add_function(
            name,
            move |This(list): This<Arc<Vec<Value>>>, ids: Arc<Vec<Value>>| {
                keep(&list, |item| {
                    matches_any(item, id_field, aliases_field, &ids) == wanted
                })
            },
        )
        .map_err(e)?;
    }
    ctx.add_function(
        "inRegion",
        |This(list): This<Arc<Vec<Value>>>, region: Arc<String>| {
            keep(&list, |item| in_datacenter(item, "region", &region))
        },
    )
    .map_err(e)?;
    ctx.add_function(
        "inCountryCode",
        |This(list): This<Arc<Vec<Value>>>, cc: Arc<String>| {
            keep(&list, |item| in_datacenter(item, "country_code", &cc))
        },
    )
    .map_err(e)?;
    ctx.add_function(
        "underCost",
        |This(list): This<Arc<Vec<Value>>>, price_type: Arc<String>, max: Value| {
            let max = number(&max).ok_or_else(|| {
                ExecutionError::function_error("underCost", "the maximum cost must be a number")
            })?;
            keep(&list, |item| {
                price(item, &price_type).is_some_and(|p| p <= max)
            })
        },
    )
    .map_err(e)?;
    ctx.add_function(
        "sortBy",
        |This(list): This<Arc<Vec<Value>>>, by: Arc<String>| {
            if by.as_str() != "price" {
                return Err(ExecutionError::function_error(
                    "sortBy",
                    format!(
                        "sortBy('{by}') is not supported; use sortBy('price') or sortBy(m, <key>)"
                    ),
                ));
            }
            let mut items: Vec<Value> = list.as_ref().clone();
            // Stable: models without a text.input price keep their order, after priced ones.
            items.sort_by(|a, b| {
                let (pa, pb) = (price(a, "text.input"), price(b, "text.input"));
                match (pa, pb) {
                    (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
            Ok(Value::List(Arc::new(items)))
        },
    )
    .map_err(e)?;
    ctx.add_function("random", |This(list): This<Arc<Vec<Value>>>| {
        if list.is_empty() {
            return Err(ExecutionError::function_error("random", "empty list"));
        }
        let i = rand::random_range(0..list.len());
        Ok(list.get(i).cloned().unwrap_or(Value::Null))
    })
    .map_err(e)?;
    ctx.add_function("randomize", |This(list): This<Arc<Vec<Value>>>| {
        let mut items: Vec<Value> = list.as_ref().clone();
        items.shuffle(&mut rand::rng());
        Value::List(Arc::new(items))
    })
    .map_err(e)?;
    ctx.add_function(
        "get",
        |This(list): This<Arc<Vec<Value>>>, Arguments(args): Arguments| get(&list, &args),
    )
    .map_err(e)?;
    ctx.add_function(
        "getModel",
        |This(provider): This<Value>, id: Arc<String>| {
            let models = match field(&provider, "models") {
                Some(Value::List(models)) => models.clone(),
                _ => {
                    return Err(ExecutionError::function_error(
                        "getModel",
                        "receiver is not a provider",
                    ));
                }
            };
            models
                .iter()
                .find(|m| names_match(m, "id", "id_aliases", &id))
                .cloned()
                .ok_or_else(|| {
                    ExecutionError::function_error("getModel", format!("no model '{id}'"))
                })
        },
    )
    .map_err(e)?;
    ctx.add_function(
        "getMetadata",
        |This(item): This<Value>, path: Arc<String>| {
            let mut current = field(&item, "metadata").cloned().unwrap_or(Value::Null);
            for part in path.split('.') {
                current = field(&current, part).cloned().unwrap_or(Value::Null);
            }
            current
        },
    )
    .map_err(e)?;
    Ok(())
}

/// A field of a CEL map, `None` when `value` is not a map or has no such key.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Map(Map { map }) => map.get(&Key::String(Arc::new(name.to_owned()))),
        _ => None,
    }
}

/// A string field of a CEL map ("" when absent).
pub fn str_field<'a>(value: &'a Value, name: &str) -> &'a str {
    match field(value, name) {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    }
}

fn keep(list: &[Value], pred: impl Fn(&Value) -> bool) -> Result<Value, ExecutionError> {
    Ok(Value::List(Arc::new(
        list.iter().filter(|v| pred(v)).cloned().collect(),
    )))
}

/// True when `item.<id_field>` or one of `item.<aliases_field>` equals `name`
/// (case-insensitive).
fn names_match(item: &Value, id_field: &str, aliases_field: &str, name: &str) -> bool {
    if str_field(item, id_field).eq_ignore_ascii_case(name) {
        return true;
    }
    match field(item, aliases_field) {
        Some(Value::List(aliases)) => aliases
            .iter()
            .any(|a| matches!(a, Value::String(s) if s.eq_ignore_ascii_case(name))),
        _ => false,
    }
}

fn matches_any(item: &Value, id_field: &str, aliases_field: &str, ids: &[Value]) -> bool {
    ids.iter().any(|id| match id {
        Value::String(s) => names_match(item, id_field, aliases_field, s),
        _ => false,
    })
}

fn in_datacenter(item: &Value, key: &str, wanted: &str) -> bool {
    match field(item, "datacenters") {
        Some(Value::List(dcs)) => dcs
            .iter()
            .any(|dc| str_field(dc, key).eq_ignore_ascii_case(wanted)),
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// `m.pricing.<dotted price type>` as a number.
fn price(item: &Value, price_type: &str) -> Option<f64> {
    let mut current = field(item, "pricing")?;
    for part in price_type.split('.') {
        current = field(current, part)?;
    }
    number(current)
}

/// `get(id)` on providers/authors/models, `get(provider, model)` on models.
fn get(list: &[Value], args: &[Value]) -> Result<Value, ExecutionError> {
    let arg = |i: usize| match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(ExecutionError::function_error(
            "get",
            "arguments must be strings",
        )),
    };
    let found = match args.len() {
        1 => {
            let id = arg(0)?;
            list.iter()
                .find(|item| names_match(item, "id", "id_aliases", id))
        }
        2 => {
            let (provider, model) = (arg(0)?, arg(1)?);
            list.iter().find(|item| {
                names_match(item, "provider_id", "provider_id_aliases", provider)
                    && names_match(item, "id", "id_aliases", model)
            })
        }
        n => return Err(ExecutionError::invalid_argument_count(2, n)),
    };
    found
        .cloned()
        .ok_or_else(|| ExecutionError::function_error("get", format!("nothing matches {args:?}")))
}
