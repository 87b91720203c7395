//! The built-in provider and model catalog, kept as data in `plugin/catalog/*.json` and
//! parsed once per policy load (it is small: a few dozen entries).

use serde::Deserialize;

use super::config::{ModelConfig, Pricing};

const PROVIDERS_JSON: &str = include_str!("../../catalog/providers.json");
const MODELS_JSON: &str = include_str!("../../catalog/models.json");

/// A provider of the built-in catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogProvider {
    pub id: String,
    #[serde(default)]
    pub id_aliases: Vec<String>,
    #[serde(default)]
    pub display_name: String,
    pub base_url: String,
    /// "openai" and/or "anthropic".
    pub formats: Vec<String>,
    #[serde(default)]
    pub website: String,
}

/// A model of the built-in catalog, served by `provider`.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogModel {
    pub provider: String,
    pub id: String,
    #[serde(default)]
    pub id_aliases: Vec<String>,
    #[serde(default)]
    pub author_id: String,
    #[serde(default)]
    pub max_context_window: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub input_modalities: Vec<String>,
    #[serde(default)]
    pub output_modalities: Vec<String>,
    #[serde(default)]
    pub supported_features: Vec<String>,
    #[serde(default)]
    pub pricing: Option<Pricing>,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Deserialize)]
struct ProvidersFile {
    providers: Vec<CatalogProvider>,
}

#[derive(Deserialize)]
struct ModelsFile {
    models: Vec<CatalogModel>,
}

/// An embedded catalog file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("built-in {file} catalog: {source}")]
pub struct CatalogError {
    file: &'static str,
    #[source]
    source: serde_json::Error,
}

/// The parsed catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub providers: Vec<CatalogProvider>,
    pub models: Vec<CatalogModel>,
}

impl Catalog {
    /// Parses the embedded data files. An error here is a packaging bug (the files ship
    /// inside the plugin); a test keeps them valid.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let providers: ProvidersFile =
            serde_json::from_str(PROVIDERS_JSON).map_err(|source| CatalogError {
                file: "provider",
                source,
            })?;
        let models: ModelsFile =
            serde_json::from_str(MODELS_JSON).map_err(|source| CatalogError {
                file: "model",
                source,
            })?;
        Ok(Catalog {
            providers: providers.providers,
            models: models.models,
        })
    }

    /// The catalog provider whose id or alias is `name` (case-insensitive).
    pub fn provider(&self, name: &str) -> Option<&CatalogProvider> {
        self.providers.iter().find(|p| {
            p.id.eq_ignore_ascii_case(name)
                || p.id_aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// The catalog models of one provider, as model configs (what a policy could have
    /// written), so catalog and configured models merge through one path.
    pub fn models_of(&self, provider_id: &str) -> impl Iterator<Item = (ModelConfig, bool)> + '_ {
        let provider_id = provider_id.to_owned();
        self.models
            .iter()
            .filter(move |m| m.provider == provider_id)
            .map(|m| {
                (
                    ModelConfig {
                        id: m.id.clone(),
                        id_aliases: m.id_aliases.clone(),
                        author_id: Some(m.author_id.clone()).filter(|a| !a.is_empty()),
                        max_context_window: m.max_context_window,
                        max_output_tokens: m.max_output_tokens,
                        input_modalities: m.input_modalities.clone(),
                        output_modalities: m.output_modalities.clone(),
                        supported_features: m.supported_features.clone(),
                        pricing: m.pricing.clone(),
                        ..ModelConfig::default()
                    },
                    m.deprecated,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_files_parse_and_every_model_has_a_provider() {
        let c = Catalog::builtin().unwrap();
        assert!(c.providers.len() >= 9);
        for m in &c.models {
            assert!(
                c.provider(&m.provider).is_some(),
                "model {} names unknown provider",
                m.id
            );
        }
        assert_eq!(c.provider("Gemini").unwrap().id, "google");
        assert!(
            c.provider("anthropic")
                .unwrap()
                .formats
                .contains(&"anthropic".to_owned())
        );
    }
}
