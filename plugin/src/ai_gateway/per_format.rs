//! [`PerFormat`]: one value for each API format the gateway speaks.

use crate::model::ApiFormat;

/// One `T` per [`ApiFormat`]: what the gateway builds once for each format at load (the
/// `ai` value strategies read, their CEL roots, the models a format may use).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerFormat<T> {
    pub openai: T,
    pub anthropic: T,
}

impl<T> PerFormat<T> {
    /// `make` called for OpenAI, then for Anthropic.
    pub fn new(mut make: impl FnMut(ApiFormat) -> T) -> PerFormat<T> {
        PerFormat {
            openai: make(ApiFormat::OpenAi),
            anthropic: make(ApiFormat::Anthropic),
        }
    }

    /// Like [`PerFormat::new`], stopping at the first error.
    pub fn try_new<E>(mut make: impl FnMut(ApiFormat) -> Result<T, E>) -> Result<PerFormat<T>, E> {
        Ok(PerFormat {
            openai: make(ApiFormat::OpenAi)?,
            anthropic: make(ApiFormat::Anthropic)?,
        })
    }

    pub fn get(&self, format: ApiFormat) -> &T {
        match format {
            ApiFormat::OpenAi => &self.openai,
            ApiFormat::Anthropic => &self.anthropic,
        }
    }
}
