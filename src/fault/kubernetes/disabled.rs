//! The stand-in for `client.rs` in a build without the `kubernetes` feature: specs
//! still validate and plan, and connecting fails with one sentence.

use super::select::{NodeInfo, PodInfo, PodRef};
use super::FaultError;

pub const CORDONED_BY: &str = "shakeout.dev/cordoned-by";
pub const ISOLATED: &str = "shakeout.dev/isolated";

pub const NOT_BUILT: &str = "this shakeout was built without the `kubernetes` feature \
     (rebuild with `cargo build --features kubernetes`)";

/// No cluster can be reached in this build: the type has no values.
pub enum Cluster {}

// Matched by `inject.rs`; only the real client makes one.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq)]
pub enum Eviction {
    Evicted,
    Gone,
    Refused(String),
}

impl Cluster {
    pub async fn connect(_context: Option<&str>) -> Result<Cluster, FaultError> {
        Err(FaultError::Target(NOT_BUILT.into()))
    }

    pub async fn nodes(&self, _selector: &str) -> Result<Vec<NodeInfo>, FaultError> {
        match *self {}
    }

    pub async fn pods(
        &self,
        _namespace: Option<&str>,
        _labels: Option<&str>,
        _node: Option<&str>,
    ) -> Result<Vec<PodInfo>, FaultError> {
        match *self {}
    }

    pub async fn cordon(&self, _node: &str, _token: &str) -> Result<bool, FaultError> {
        match *self {}
    }

    pub async fn uncordon_if_ours(
        &self,
        _node: &str,
        _token: &str,
    ) -> Result<Option<&'static str>, FaultError> {
        match *self {}
    }

    pub async fn evict(&self, _pod: &PodRef) -> Result<Eviction, FaultError> {
        match *self {}
    }

    pub async fn delete_pod(&self, _pod: &PodRef, _grace: Option<u32>) -> Result<bool, FaultError> {
        match *self {}
    }

    pub async fn isolate_pod(&self, _pod: &PodRef, _token: &str) -> Result<bool, FaultError> {
        match *self {}
    }

    pub async fn release_pods(&self, _namespace: &str, _token: &str) -> Result<usize, FaultError> {
        match *self {}
    }

    pub async fn create_deny_all(
        &self,
        _namespace: &str,
        _name: &str,
        _token: &str,
    ) -> Result<(), FaultError> {
        match *self {}
    }

    pub async fn delete_policy(&self, _namespace: &str, _name: &str) -> Result<bool, FaultError> {
        match *self {}
    }
}
