//! YAML loading that keeps source positions. (Placeholder until the located deserializer lands.)
use serde::{Deserialize, Deserializer};

pub fn each<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Vec::<T>::deserialize(d)
}

// ---- temporary stand-ins until the located deserializer lands ----
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    pub file: String,
    pub pos: Option<Pos>,
    pub path: String,
    pub message: String,
}
impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}
#[derive(Default)]
pub struct SourceMap;
impl SourceMap {
    pub fn pos(&self, _path: &str) -> Option<Pos> {
        None
    }
}
pub fn did_you_mean<'a>(_word: &str, _c: &[&'a str]) -> Option<&'a str> {
    None
}
pub fn from_str<T: serde::de::DeserializeOwned>(file: &str, src: &str) -> Result<(T, SourceMap), Vec<SpecError>> {
    serde_yaml::from_str(src).map(|t| (t, SourceMap)).map_err(|e| {
        vec![SpecError { file: file.into(), pos: None, path: String::new(), message: e.to_string() }]
    })
}
