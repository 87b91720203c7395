//! Conversions between CEL values, JSON and the strings that headers and bodies need.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};

/// JSON to a CEL value (numbers become int when they are integral, double otherwise).
pub fn json_to_cel(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_cel).collect()))
        }
        serde_json::Value::Object(entries) => {
            let map: HashMap<Key, Value> = entries
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// A CEL value as JSON; values JSON cannot hold (functions, types) are an error.
pub fn cel_to_json(value: &Value) -> Result<serde_json::Value, String> {
    value.json().map_err(|e| e.to_string())
}

/// The text of a value placed in a string: strings as they are, scalars printed, lists and
/// maps as JSON. Used for embedded `${…}` parts, header values and log fields.
pub fn cel_to_string(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => s.as_ref().clone(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Timestamp(t) => t.to_rfc3339(),
        other => cel_to_json(other)?.to_string(),
    })
}

/// [`cel_to_string`] for a value the caller gives up: a string nobody else holds is moved
/// out instead of copied (header values rendered per request).
pub fn cel_into_string(value: Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(Arc::try_unwrap(s).unwrap_or_else(|shared| shared.as_ref().clone())),
        other => cel_to_string(&other),
    }
}

/// A map value from string keys.
pub fn string_map<I>(entries: I) -> Value
where
    I: IntoIterator<Item = (String, Value)>,
{
    let map: HashMap<Key, Value> = entries
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k)), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

pub fn string_value(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_cel() {
        let json = serde_json::json!({"a": [1, 2.5, "x", true, null], "b": {"c": "d"}});
        let back = cel_to_json(&json_to_cel(&json)).unwrap();
        assert_eq!(back, json);
    }

    #[test]
    fn strings_print_without_quotes_and_lists_as_json() {
        assert_eq!(cel_to_string(&string_value("hi")).unwrap(), "hi");
        assert_eq!(cel_to_string(&Value::Int(3)).unwrap(), "3");
        let list = json_to_cel(&serde_json::json!(["a", 1]));
        assert_eq!(cel_to_string(&list).unwrap(), r#"["a",1]"#);
    }
}
