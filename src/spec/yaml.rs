//! YAML loading that keeps source positions.
