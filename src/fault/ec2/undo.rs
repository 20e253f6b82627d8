//! The journaled undo of an EC2 zone loss: start exactly the instances that were
//! running, put every isolated subnet back on its own network ACL, delete the deny-all
//! ACLs, and check that the zone is as it was.

use crate::fault::FaultError;
use serde::{Deserialize, Serialize};

/// Tags on every deny-all ACL: which run and fault made it, and from when `sweep ec2`
/// may remove it.
pub const TAG_RUN: &str = "shakeout:run-id";
pub const TAG_FAULT: &str = "shakeout:fault";
pub const TAG_EXPIRES: &str = "shakeout:expires";
/// `shakeout:restore:<subnet-id>` = the ACL the subnet was on, so that `sweep` can
/// restore it even without the journal.
pub const TAG_RESTORE_PREFIX: &str = "shakeout:restore:";

/// The EC2 undos, as journaled: `{"action": "ec2_zone_restore", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Ec2Undo {
    Ec2ZoneRestore(Ec2Restore),
}

/// Everything a revert needs; the deny-all ACLs are found by their tags, so a run
/// killed between creating one and swapping it in leaves nothing behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ec2Restore {
    pub region: String,
    /// The zone's name in this account.
    pub zone: String,
    pub run_id: String,
    pub fault: String,
    /// The instances that were running; revert starts exactly these.
    pub instances: Vec<String>,
    /// The subnets the fault isolates and the ACL each was on.
    pub subnets: Vec<SubnetAcl>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubnetAcl {
    pub subnet: String,
    pub vpc: String,
    /// The network ACL the subnet was associated with before the fault.
    pub acl: String,
}

impl Ec2Undo {
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            Ec2Undo::Ec2ZoneRestore(r) => super::backend::restore(r).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            Ec2Undo::Ec2ZoneRestore(r) => r.manual_fix(),
        }
    }
}

impl Ec2Restore {
    /// The AWS CLI commands that put the zone back, each safe to run twice.
    pub fn manual_fix(&self) -> String {
        let region = &self.region;
        let mut steps = Vec::new();
        if !self.instances.is_empty() {
            steps.push(format!(
                "`aws ec2 start-instances --region {region} --instance-ids {}`",
                self.instances.join(" ")
            ));
        }
        for s in &self.subnets {
            let sub = &s.subnet;
            steps.push(format!(
                "`aws ec2 replace-network-acl-association --region {region} --network-acl-id {} --association-id \"$(aws ec2 describe-network-acls --region {region} --filters Name=association.subnet-id,Values={sub} --query \"NetworkAcls[].Associations[?SubnetId=='{sub}'].NetworkAclAssociationId\" --output text)\"`",
                s.acl
            ));
        }
        if !self.subnets.is_empty() {
            steps.push(format!(
                "`for acl in $(aws ec2 describe-network-acls --region {region} --filters Name=tag:{TAG_RUN},Values={} Name=tag:{TAG_FAULT},Values={} --query 'NetworkAcls[].NetworkAclId' --output text); do aws ec2 delete-network-acl --region {region} --network-acl-id $acl; done`",
                sh_quote(&self.run_id),
                sh_quote(&self.fault)
            ));
        }
        format!(
            "EC2 zone {} in {region} may not be as it was; run {}",
            self.zone,
            steps.join(", then ")
        )
    }
}

/// `text` as one shell word.
fn sh_quote(text: &str) -> String {
    let safe = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if safe && !text.is_empty() {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
