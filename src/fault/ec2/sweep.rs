//! `shakeout sweep ec2 --region R`: deny-all ACLs a lost journal left behind, found by
//! their tags; those past their expiry are removed (their subnets first go back to the
//! ACL recorded in the ACL's own tags, or to the VPC's default ACL).

use super::api::{Acl, Ec2};
use super::undo::{TAG_EXPIRES, TAG_FAULT, TAG_RESTORE_PREFIX, TAG_RUN};
use super::{SweepItem, SweepOutcome};
use crate::fault::FaultError;
use std::time::SystemTime;

pub async fn sweep(region: &str) -> Result<Vec<SweepItem>, FaultError> {
    let ec2 = Ec2::connect(region).await;
    let acls = ec2.acls(&[("tag-key", vec![TAG_RUN.to_string()])]).await?;
    let now = SystemTime::now();
    let mut items = Vec::new();
    for acl in acls {
        let outcome = match expiry(&acl) {
            Some(t) if t <= now => match remove(&ec2, &acl).await {
                Ok(note) => SweepOutcome::Removed(note),
                Err(e) => SweepOutcome::Failed(e.to_string()),
            },
            Some(_) => SweepOutcome::Kept("not expired".into()),
            None => SweepOutcome::Kept(format!("no readable {TAG_EXPIRES} tag")),
        };
        items.push(SweepItem {
            acl: acl.id.clone(),
            description: describe(&acl),
            outcome,
        });
    }
    Ok(items)
}

fn tag<'a>(acl: &'a Acl, key: &str) -> &'a str {
    acl.tags.get(key).map_or("?", String::as_str)
}

fn expiry(acl: &Acl) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(acl.tags.get(TAG_EXPIRES)?).ok()
}

fn describe(acl: &Acl) -> String {
    let on = if acl.subnets.is_empty() {
        "no subnet".to_string()
    } else {
        acl.subnets.join(" ")
    };
    format!(
        "{} in {}: run {}, fault `{}`, expires {}, on {on}",
        acl.id,
        acl.vpc,
        tag(acl, TAG_RUN),
        tag(acl, TAG_FAULT),
        tag(acl, TAG_EXPIRES)
    )
}

/// Move the ACL's subnets back, then delete it.
async fn remove(ec2: &Ec2, acl: &Acl) -> Result<String, FaultError> {
    let assoc = ec2.associations(&acl.subnets).await?;
    let mut moved = Vec::new();
    for subnet in &acl.subnets {
        let original = match acl.tags.get(&format!("{TAG_RESTORE_PREFIX}{subnet}")) {
            Some(a) => a.clone(),
            None => ec2.default_acl(&acl.vpc).await?,
        };
        if let Some(a) = assoc.get(subnet).filter(|a| a.acl == acl.id) {
            ec2.replace_association(&a.id, &original).await?;
            moved.push(format!("{subnet} back on {original}"));
        }
    }
    ec2.delete_acl(&acl.id).await?;
    Ok(if moved.is_empty() {
        "deleted".into()
    } else {
        format!("{}; deleted", moved.join(", "))
    })
}
