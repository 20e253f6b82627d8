//! YAML loading that keeps source positions. (Placeholder until the located deserializer lands.)
use serde::{Deserialize, Deserializer};

pub fn each<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Vec::<T>::deserialize(d)
}
