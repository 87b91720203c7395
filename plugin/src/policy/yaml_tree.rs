//! A YAML document as a tree that remembers where every node was written.
//!
//! The policy is parsed once into this tree (serde-saphyr does the YAML work and gives each
//! node its position); validation then walks the tree by hand so it can report every problem
//! at once, each at its own line and column, instead of stopping at the first serde error.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// 1-based line and column of a node; (0, 0) when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// One node of the document with the position it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Keys keep their own positions so "unknown field" points at the key.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Node {
    /// The map entries, when this node is a map.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// A short name of the node's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    /// The node as JSON (positions dropped), for action configs compiled by other modules.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            NodeValue::Null => serde_json::Value::Null,
            NodeValue::Bool(b) => serde_json::Value::Bool(*b),
            NodeValue::Int(i) => serde_json::Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            NodeValue::String(s) => serde_json::Value::String(s.clone()),
            NodeValue::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            NodeValue::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML syntax (or structure) error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub pos: Pos,
}

/// Parses a whole document. An empty document is an empty map.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.trim().is_empty() {
        return Ok(Node {
            pos: Pos { line: 1, column: 1 },
            value: NodeValue::Map(Vec::new()),
        });
    }
    // YAML 1.2 booleans only: `n`, `no`, `on`, `y` stay strings (a metadata key `n` or a
    // header value `on` must not turn into a boolean).
    let options = serde_saphyr::options! { strict_booleans: true };
    let root: Result<Spanned<RawValue>, _> = serde_saphyr::from_str_with_options(text, options);
    match root {
        Ok(spanned) => Ok(into_node(spanned)),
        Err(err) => {
            let pos = err
                .location()
                .map(|loc| Pos {
                    line: clamp(loc.line()),
                    column: clamp(loc.column()),
                })
                .unwrap_or_default();
            Err(YamlError {
                message: first_line(&err.without_snippet().to_string()),
                pos,
            })
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).trim().to_string()
}

fn clamp(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos {
        line: clamp(s.referenced.line()),
        column: clamp(s.referenced.column()),
    }
}

fn into_node(spanned: Spanned<RawValue>) -> Node {
    let pos = pos_of(&spanned);
    let value = match spanned.value {
        RawValue::Null => NodeValue::Null,
        RawValue::Bool(b) => NodeValue::Bool(b),
        RawValue::Int(i) => NodeValue::Int(i),
        RawValue::Float(f) => NodeValue::Float(f),
        RawValue::String(s) => NodeValue::String(s),
        RawValue::Seq(items) => NodeValue::Seq(items.into_iter().map(into_node).collect()),
        RawValue::Map(entries) => NodeValue::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        Key {
                            pos: pos_of(&k),
                            name: k.value,
                        },
                        into_node(v),
                    )
                })
                .collect(),
        ),
    };
    Node { pos, value }
}

/// What serde hands us, before positions are folded into `Node`.
enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<String>, Spanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
        match i64::try_from(v) {
            Ok(i) => Ok(RawValue::Int(i)),
            // Precision loss is acceptable: no policy field takes integers this large.
            #[allow(clippy::cast_precision_loss)]
            Err(_) => Ok(RawValue::Float(v as f64)),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawValue>>()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyString>>()? {
            let value = map.next_value::<Spanned<RawValue>>()?;
            let key = Spanned::new(key.value.0, key.referenced, key.defined);
            entries.push((key, value));
        }
        Ok(RawValue::Map(entries))
    }
}

/// Map keys: any scalar, kept as its text (`200: x` becomes the key "200").
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a scalar map key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyString, E> {
                Ok(KeyString(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_their_positions() {
        let doc =
            parse("on_http_request:\n  - name: a\n    expressions:\n      - \"true\"\n").unwrap();
        let phase = doc.get("on_http_request").unwrap();
        assert_eq!(phase.pos, Pos { line: 2, column: 3 });
        let rule = &phase.as_seq().unwrap()[0];
        let (key, name) = &rule.as_map().unwrap()[0];
        assert_eq!(key.pos, Pos { line: 2, column: 5 });
        assert_eq!(
            name.pos,
            Pos {
                line: 2,
                column: 11
            }
        );
        let expr = &rule.get("expressions").unwrap().as_seq().unwrap()[0];
        assert_eq!(expr.pos, Pos { line: 4, column: 9 });
        assert_eq!(expr.as_str(), Some("true"));
    }

    #[test]
    fn scalars_keep_their_yaml_types() {
        let doc = parse("a: 1\nb: true\nc: x\nd: 1.5\ne: null\nf: \"2\"\n").unwrap();
        assert_eq!(doc.get("a").unwrap().value, NodeValue::Int(1));
        assert_eq!(doc.get("b").unwrap().value, NodeValue::Bool(true));
        assert_eq!(doc.get("c").unwrap().value, NodeValue::String("x".into()));
        assert_eq!(doc.get("d").unwrap().value, NodeValue::Float(1.5));
        assert_eq!(doc.get("e").unwrap().value, NodeValue::Null);
        assert_eq!(doc.get("f").unwrap().value, NodeValue::String("2".into()));
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let doc = parse("n: on\ny: no\n").unwrap();
        assert_eq!(doc.get("n").unwrap().value, NodeValue::String("on".into()));
        assert_eq!(doc.get("y").unwrap().value, NodeValue::String("no".into()));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
        assert!(!err.message.is_empty());
    }
}
