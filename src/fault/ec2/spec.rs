//! YAML mirror of the `ec2:` layer of `az_loss`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `az_loss: {zone, ec2: {region, filters, actions, max_instances, max_subnets, max_percent}}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2ZoneLossSpec {
    pub region: String,
    /// EC2 filter syntax (`{"tag:app": checkout}`, a value or a list of values); applies
    /// to instances and subnets alike.
    #[serde(default)]
    pub filters: BTreeMap<String, FilterValues>,
    pub actions: Vec<Ec2Action>,
    /// Refuse before any change when more running instances match in the zone.
    #[serde(default)]
    pub max_instances: Option<u32>,
    /// Refuse before any change when more subnets match in the zone.
    #[serde(default)]
    pub max_subnets: Option<u32>,
    /// Refuse before any change when the zone holds more than this percent of the
    /// region's running instances that match the filters.
    #[serde(default)]
    pub max_percent: Option<f64>,
}

/// One filter value or several (EC2 ORs them).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum FilterValues {
    One(String),
    Many(Vec<String>),
}

impl FilterValues {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            FilterValues::One(v) => vec![v.clone()],
            FilterValues::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ec2Action {
    /// Stop the zone's matching running instances; revert starts exactly those.
    StopInstances,
    /// Swap a deny-all network ACL onto the zone's matching subnets; revert swaps the
    /// originals back and deletes it.
    IsolateSubnets,
}
