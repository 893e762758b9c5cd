//! deaap-gen compiles one typed TOML model per DEAAP environment into every deployment artifact.
pub mod diagnostic;
pub mod model;
pub mod render;
pub mod source;
pub mod targets;

use std::path::Path;

/// Loads, layers and validates one environment file into the typed model.
///
/// # Errors
/// Every problem found, as diagnostics.
pub fn load_model(path: &Path) -> Result<model::Environment, String> {
    fn merge(base: &mut toml::Table, over: toml::Table) {
        for (k, v) in over {
            match (base.get_mut(&k), v) {
                (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
                (_, v) => {
                    base.insert(k, v);
                }
            }
        }
    }
    fn read(path: &Path) -> Result<toml::Table, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let mut t: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
        if let Some(toml::Value::String(ext)) = t.remove("extends") {
            let mut base = read(&path.parent().unwrap_or(Path::new(".")).join(ext))?;
            merge(&mut base, t);
            return Ok(base);
        }
        Ok(t)
    }
    let t = read(path)?;
    t.try_into().map_err(|e: toml::de::Error| e.to_string())
}
