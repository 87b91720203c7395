//! `deny`: answer at once with a status code (403 unless configured) and no body.

use super::{Compiler, Effect};
use crate::model::Response;
use crate::policy::yaml_tree::Node;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deny {
    pub status: u16,
}

/// ngrok's default for `deny`.
const DEFAULT_STATUS: u16 = 403;

impl Deny {
    pub fn compile(config: Option<&Node>, path: &str, c: &mut Compiler<'_>) -> Option<Deny> {
        let mut status = DEFAULT_STATUS;
        let mut ok = true;
        for (name, node, field) in c.fields(config, path, "deny", &["status_code"]) {
            if name == "status_code" {
                match c.int(node, &field, 200..=599) {
                    Some(s) => status = u16::try_from(s).unwrap_or(DEFAULT_STATUS),
                    None => ok = false,
                }
            }
        }
        ok.then_some(Deny { status })
    }

    pub fn run(&self) -> Effect {
        Effect::Respond(Response {
            status: self.status,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }
}
