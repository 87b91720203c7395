//! `${expr}` interpolation in config strings.
//!
//! A string that is exactly one `${expr}` takes the value's own type (so `body: ${vars.x}`
//! can produce a map); a string with text around or between expressions is always a string,
//! each expression printed into it. Every expression is compiled when the policy loads.

use cel::Value;

use super::Expr;
use super::convert::{cel_into_string, cel_to_string, string_value};

/// A config string, compiled.
#[derive(Debug, Clone)]
pub enum Template {
    /// No `${…}`: the text as is.
    Text(String),
    /// The whole string is one `${expr}`: renders to the value itself.
    Whole(Expr),
    /// Text with embedded expressions: renders to a string.
    Parts(Vec<Part>),
}

#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

/// A piece of a template before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPart {
    Text(String),
    Expr(String),
}

/// Splits `text` into literal text and `${…}` sources. Braces inside the expression nest,
/// and braces inside CEL string literals are ignored.
pub fn split(text: &str) -> Result<Vec<RawPart>, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let body = &rest[start + 2..];
        let end = closing_brace(body).ok_or_else(|| "unterminated `${` in string".to_string())?;
        let source = body[..end].trim();
        if source.is_empty() {
            return Err("empty `${}` in string".to_string());
        }
        if !literal.is_empty() {
            parts.push(RawPart::Text(std::mem::take(&mut literal)));
        }
        parts.push(RawPart::Expr(source.to_string()));
        rest = &body[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(RawPart::Text(literal));
    }
    Ok(parts)
}

/// Byte index of the `}` that closes an interpolation whose body starts at `body`.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl Template {
    /// Every compiled expression of the template.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Template::Text(_) => Vec::new(),
            Template::Whole(e) => vec![e],
            Template::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Expr(e) => Some(e),
                    Part::Text(_) => None,
                })
                .collect(),
        }
    }

    /// Renders to a value: typed for a whole-string expression, a string otherwise.
    pub fn render<F>(&self, mut eval: F) -> Result<Value, String>
    where
        F: FnMut(&Expr) -> Result<Value, String>,
    {
        match self {
            Template::Text(t) => Ok(string_value(t)),
            Template::Whole(e) => eval(e),
            Template::Parts(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(e) => out.push_str(&cel_to_string(&eval(e)?)?),
                    }
                }
                Ok(string_value(&out))
            }
        }
    }

    /// Renders and prints the result (header values, log fields).
    pub fn render_string<F>(&self, eval: F) -> Result<String, String>
    where
        F: FnMut(&Expr) -> Result<Value, String>,
    {
        match self {
            Template::Text(t) => Ok(t.clone()),
            _ => cel_into_string(self.render(eval)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_expressions() {
        assert_eq!(
            split("a ${x} b ${ {'k': '}'}['k'] }").unwrap(),
            vec![
                RawPart::Text("a ".into()),
                RawPart::Expr("x".into()),
                RawPart::Text(" b ".into()),
                RawPart::Expr("{'k': '}'}['k']".into()),
            ]
        );
        assert_eq!(split("plain").unwrap(), vec![RawPart::Text("plain".into())]);
        assert_eq!(split("${a}").unwrap(), vec![RawPart::Expr("a".into())]);
    }

    #[test]
    fn unterminated_and_empty_are_errors() {
        assert!(split("x ${a").is_err());
        assert!(split("x ${ }").is_err());
    }
}
