//! `restrict-ips`: allow or deny the client by CIDR. A client inside any `deny` range is
//! denied; with an `allow` list, a client outside every `allow` range is denied too. When
//! `enforce` is false the decision is only recorded in `actions.ngrok.restrict_ips`.

use std::net::IpAddr;

use cel::Value;
use ipnet::IpNet;

use super::{Compiler, Effect, RunCtx};
use crate::cel_env::Template;
use crate::cel_env::convert::{string_map, string_value};
use crate::cel_env::functions::parse_cidr;
use crate::error_response::error_response;
use crate::policy::yaml_tree::Node;

#[derive(Debug)]
pub enum CidrEntry {
    /// Parsed at load.
    Fixed(IpNet),
    /// `${…}`: evaluated per request; a string or a list of strings.
    Dynamic(Template),
}

#[derive(Debug)]
pub struct RestrictIps {
    pub enforce: bool,
    pub allow: Vec<CidrEntry>,
    pub deny: Vec<CidrEntry>,
}

impl RestrictIps {
    pub fn compile(config: Option<&Node>, path: &str, c: &mut Compiler<'_>) -> Option<RestrictIps> {
        let mut out = RestrictIps {
            enforce: true,
            allow: Vec::new(),
            deny: Vec::new(),
        };
        let mut ok = true;
        for (name, node, field) in
            c.fields(config, path, "restrict-ips", &["enforce", "allow", "deny"])
        {
            match name {
                "enforce" => match c.bool(node, &field) {
                    Some(b) => out.enforce = b,
                    None => ok = false,
                },
                "allow" | "deny" => match compile_list(node, &field, c) {
                    Some(list) if name == "allow" => out.allow = list,
                    Some(list) => out.deny = list,
                    None => ok = false,
                },
                _ => {}
            }
        }
        if ok && out.allow.is_empty() && out.deny.is_empty() {
            c.error(
                path,
                "`restrict-ips` requires `config.allow` or `config.deny` with at least one CIDR",
            );
            ok = false;
        }
        ok.then_some(out)
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        let client = ctx.data.req.conn.client_ip.trim();
        let Ok(ip) = client.parse::<IpAddr>() else {
            return Err(format!("client address `{client}` is not an IP address"));
        };
        let (deny, allow) = {
            let act = ctx.activation();
            (
                expand(&self.deny, ctx, &act)?,
                expand(&self.allow, ctx, &act)?,
            )
        };
        let verdict = if let Some(net) = deny.iter().find(|n| n.contains(&ip)) {
            Verdict::Deny(Some(*net))
        } else if allow.is_empty() {
            Verdict::Allow(None)
        } else if let Some(net) = allow.iter().find(|n| n.contains(&ip)) {
            Verdict::Allow(Some(*net))
        } else {
            Verdict::Deny(None)
        };
        let (action, matched) = match verdict {
            Verdict::Allow(m) => ("allow", m),
            Verdict::Deny(m) => ("deny", m),
        };
        let mut result = vec![
            ("action".to_string(), string_value(action)),
            (
                "matched_cidr".to_string(),
                matched.map_or(Value::Null, |n| string_value(&n.to_string())),
            ),
        ];
        let denied = action == "deny";
        if denied {
            result.push((
                "error".to_string(),
                string_map([
                    ("code".to_string(), string_value(IP_RESTRICTED)),
                    (
                        "message".to_string(),
                        string_value(&format!("client IP {ip} is not allowed")),
                    ),
                ]),
            ));
        }
        ctx.set_result("restrict_ips", string_map(result));
        if denied && self.enforce {
            return Ok(Effect::Respond(error_response(
                403,
                IP_RESTRICTED,
                "forbidden",
                "client IP is not allowed",
            )));
        }
        Ok(Effect::Continue)
    }
}

/// Error code in the results and the response header.
const IP_RESTRICTED: &str = "ip_restricted";

enum Verdict {
    Allow(Option<IpNet>),
    Deny(Option<IpNet>),
}

fn compile_list(node: &Node, path: &str, c: &mut Compiler<'_>) -> Option<Vec<CidrEntry>> {
    let items = c.list(node, path)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (item, item_path) in items {
        let Some(text) = item.as_str() else {
            c.error(
                &item_path,
                format!("expected a CIDR string, found {}", item.kind()),
            );
            ok = false;
            continue;
        };
        match c.template_text(text, &item_path) {
            Some(Template::Text(t)) => match parse_cidr(&t) {
                Some(net) => out.push(CidrEntry::Fixed(net)),
                None => {
                    c.error(
                        &item_path,
                        format!("`{t}` is not a CIDR range (e.g. 10.0.0.0/8)"),
                    );
                    ok = false;
                }
            },
            Some(t) => out.push(CidrEntry::Dynamic(t)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn expand(
    entries: &[CidrEntry],
    ctx: &RunCtx<'_, '_>,
    act: &crate::cel_env::Activation<'_, '_>,
) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            CidrEntry::Fixed(net) => out.push(*net),
            CidrEntry::Dynamic(t) => {
                let value = ctx.ev.render(t, act)?;
                let texts: Vec<String> = match value {
                    Value::String(s) => vec![s.as_ref().clone()],
                    Value::List(items) => items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.as_ref().clone()),
                            other => Err(format!("CIDR list holds {other:?}, not a string")),
                        })
                        .collect::<Result<_, _>>()?,
                    other => return Err(format!("CIDR expression produced {other:?}")),
                };
                for text in texts {
                    out.push(
                        parse_cidr(&text).ok_or_else(|| format!("`{text}` is not a CIDR range"))?,
                    );
                }
            }
        }
    }
    Ok(out)
}
