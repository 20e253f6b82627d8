//! Serde mirror of the experiment YAML (strict: unknown keys are errors).

pub mod yaml;
