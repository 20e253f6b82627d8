//! The EC2 layer against a real EC2 API (feature `aws`): resolve the zone's targets,
//! check the caps and permissions, take the zone down, and bring it back and verify.

use super::api::{Association, DryRun, Ec2, Instance, Subnet, Zone};
use super::compile::Ec2ZonePlan;
use super::undo::{Ec2Restore, SubnetAcl, TAG_EXPIRES, TAG_FAULT, TAG_RESTORE_PREFIX, TAG_RUN};
use crate::fault::FaultError;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

/// How long instances may take to reach `stopped` or `running`.
const STATE_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(500);
/// EC2 allows 50 tags per resource; the rest are shakeout's own.
const MAX_RESTORE_TAGS: usize = 45;
/// Lines of a target listing, indented under `plan --preflight`'s check line.
const INDENT: &str = "\n          ";

/// What the zone loss would change, found with read-only calls.
struct Targets {
    zone: Zone,
    instances: Vec<Instance>,
    /// Matching running instances in the whole region, when `max_percent` needs it.
    region_running: Option<usize>,
    subnets: Vec<(Subnet, Association)>,
}

fn fail(message: String) -> FaultError {
    FaultError::Target(message)
}

async fn resolve(ec2: &Ec2, plan: &Ec2ZonePlan) -> Result<Targets, FaultError> {
    let zone = ec2.zone(&plan.zone, &plan.region).await?;
    let mut instances = Vec::new();
    let mut region_running = None;
    if plan.stop_instances {
        let running = ec2.running_instances(&plan.filters).await?;
        if plan.caps.max_percent.is_some() {
            region_running = Some(running.len());
        }
        instances = running
            .into_iter()
            .filter(|(_, z)| *z == zone.name)
            .map(|(i, _)| i)
            .collect();
    }
    let mut subnets = Vec::new();
    if plan.isolate_subnets {
        let found = ec2.subnets(&zone.name, &plan.filters).await?;
        let ids: Vec<String> = found.iter().map(|s| s.id.clone()).collect();
        let mut assoc = ec2.associations(&ids).await?;
        for s in found {
            let a = assoc
                .remove(&s.id)
                .ok_or_else(|| fail(format!("subnet {} has no network ACL association", s.id)))?;
            subnets.push((s, a));
        }
    }
    Ok(Targets {
        zone,
        instances,
        region_running,
        subnets,
    })
}

/// Refuse before any change: too many targets, or an action with none (a filter typo
/// must not pass as a zone loss that changed nothing).
fn check_targets(plan: &Ec2ZonePlan, t: &Targets) -> Result<(), String> {
    let (n, zone) = (t.instances.len(), &t.zone.name);
    if plan.stop_instances && n == 0 {
        return Err(format!(
            "no running instance in {zone} is {}",
            plan.filter_text()
        ));
    }
    if plan.isolate_subnets && t.subnets.is_empty() {
        return Err(format!("no subnet in {zone} is {}", plan.filter_text()));
    }
    if let Some(max) = plan.caps.max_instances.filter(|m| n > *m as usize) {
        return Err(format!(
            "refused: {n} running instances match in {zone}, more than max_instances {max}"
        ));
    }
    if let Some(max) = plan
        .caps
        .max_subnets
        .filter(|m| t.subnets.len() > *m as usize)
    {
        return Err(format!(
            "refused: {} subnets match in {zone}, more than max_subnets {max}",
            t.subnets.len()
        ));
    }
    if let (Some(max), Some(all)) = (plan.caps.max_percent, t.region_running) {
        let pct = percent(n, all);
        if pct > max {
            return Err(format!(
                "refused: {zone} holds {n} of the region's {all} matching running instances ({pct:.0}%), more than max_percent {max}%"
            ));
        }
    }
    Ok(())
}

fn percent(part: usize, all: usize) -> f64 {
    if all == 0 {
        0.0
    } else {
        part as f64 * 100.0 / all as f64
    }
}

/// Every target, one per line.
fn describe_targets(plan: &Ec2ZonePlan, t: &Targets) -> String {
    let mut o = format!(
        "EC2 zone {} ({}) in {}: {} running instance(s) to stop, {} subnet(s) to isolate",
        t.zone.name,
        t.zone.id,
        plan.region,
        t.instances.len(),
        t.subnets.len()
    );
    if let Some(all) = t.region_running {
        o += &format!(
            " ({:.0}% of the region's {all} matching running instances)",
            percent(t.instances.len(), all)
        );
    }
    for i in &t.instances {
        let name = i
            .name
            .as_deref()
            .map_or(String::new(), |n| format!("{n}, "));
        o += &format!("{INDENT}stop {} ({name}{})", i.id, i.instance_type);
    }
    for (s, a) in &t.subnets {
        let name = s
            .name
            .as_deref()
            .map_or(String::new(), |n| format!("{n}, "));
        o += &format!(
            "{INDENT}isolate {} ({name}{}, {}, now on {})",
            s.id, s.cidr, s.vpc, a.acl
        );
    }
    o
}

/// Preflight, read-only: the zone, every target, the caps, and each permission the
/// run needs (DryRun).
pub async fn preflight(plan: &Ec2ZonePlan) -> Result<String, FaultError> {
    let ec2 = Ec2::connect(&plan.region).await;
    let t = resolve(&ec2, plan).await?;
    let listing = describe_targets(plan, &t);
    check_targets(plan, &t)
        .map_err(|e| fail(format!("{e}; nothing was changed{INDENT}{listing}")))?;
    let perms = dry_runs(&ec2, plan, &t).await?;
    Ok(format!("{listing}{INDENT}{perms}"))
}

/// The DryRun of each call the fault and its revert make.
async fn dry_runs(ec2: &Ec2, plan: &Ec2ZonePlan, t: &Targets) -> Result<String, FaultError> {
    let mut results = Vec::new();
    if plan.stop_instances {
        let ids: Vec<String> = t.instances.iter().map(|i| i.id.clone()).collect();
        results.push(("ec2:StopInstances", ec2.dry_run_stop(&ids).await));
        results.push(("ec2:StartInstances", ec2.dry_run_start(&ids).await));
    }
    if let Some((s, a)) = t.subnets.first() {
        let tags = acl_tags("dry-run", "dry-run", SystemTime::now(), &[]);
        results.push((
            "ec2:CreateNetworkAcl",
            ec2.dry_run_create_acl(&s.vpc, &tags).await,
        ));
        results.push((
            "ec2:ReplaceNetworkAclAssociation",
            ec2.dry_run_replace(a).await,
        ));
        results.push(("ec2:DeleteNetworkAcl", ec2.dry_run_delete_acl().await));
    }
    let mut permitted = Vec::new();
    let mut unknown = Vec::new();
    let mut denied = Vec::new();
    for (action, r) in results {
        match r {
            DryRun::Permitted => permitted.push(action.to_string()),
            DryRun::Unknown(why) => unknown.push(format!("{action} ({why})")),
            DryRun::Denied(why) => denied.push(format!("{action}: {why}")),
        }
    }
    if !denied.is_empty() {
        return Err(fail(format!(
            "not permitted (DryRun): {}",
            denied.join("; ")
        )));
    }
    let mut o = format!("DryRun permitted: {}", permitted.join(", "));
    if !unknown.is_empty() {
        o += &format!("{INDENT}DryRun could not tell: {}", unknown.join("; "));
    }
    Ok(o)
}

/// Resolve the targets again (the zone may have changed since preflight), check the
/// caps, and return what a revert needs. Changes nothing.
pub async fn prepare(
    plan: &Ec2ZonePlan,
    run_id: &str,
    fault: &str,
) -> Result<Ec2Restore, FaultError> {
    let ec2 = Ec2::connect(&plan.region).await;
    let t = resolve(&ec2, plan).await?;
    check_targets(plan, &t).map_err(|e| fail(format!("{e}; nothing was changed")))?;
    Ok(Ec2Restore {
        region: plan.region.clone(),
        zone: t.zone.name.clone(),
        run_id: run_id.to_string(),
        fault: fault.to_string(),
        instances: t.instances.iter().map(|i| i.id.clone()).collect(),
        subnets: t
            .subnets
            .iter()
            .map(|(s, a)| SubnetAcl {
                subnet: s.id.clone(),
                vpc: s.vpc.clone(),
                acl: a.acl.clone(),
            })
            .collect(),
    })
}

/// The tags of a deny-all ACL: run, fault, expiry, and each subnet's original ACL.
fn acl_tags(
    run_id: &str,
    fault: &str,
    expires: SystemTime,
    subnets: &[&SubnetAcl],
) -> Vec<(String, String)> {
    let mut tags = vec![
        ("Name".to_string(), format!("shakeout deny-all ({fault})")),
        (TAG_RUN.to_string(), run_id.to_string()),
        (TAG_FAULT.to_string(), fault.to_string()),
        (
            TAG_EXPIRES.to_string(),
            humantime::format_rfc3339_seconds(expires).to_string(),
        ),
    ];
    tags.extend(
        subnets
            .iter()
            .take(MAX_RESTORE_TAGS)
            .map(|s| (format!("{TAG_RESTORE_PREFIX}{}", s.subnet), s.acl.clone())),
    );
    tags
}

/// Take the zone down: subnets onto a deny-all ACL, then instances stopped. Returns
/// once every subnet is on it and every instance is `stopped`.
pub async fn inject(plan: &Ec2ZonePlan, r: &Ec2Restore) -> Result<(), FaultError> {
    let ec2 = Ec2::connect(&r.region).await;
    if plan.isolate_subnets {
        isolate(&ec2, plan, r).await?;
    }
    if plan.stop_instances {
        ec2.stop(&r.instances).await?;
        let states = wait_states(&ec2, &r.instances, &["stopped"]).await?;
        let not: Vec<String> = not_in(&states, &r.instances, &["stopped"]);
        if !not.is_empty() {
            return Err(fail(format!(
                "instances not stopped after {}s: {}",
                STATE_TIMEOUT.as_secs(),
                not.join(", ")
            )));
        }
    }
    Ok(())
}

/// One deny-all ACL per VPC, swapped onto its subnets; checked afterwards.
async fn isolate(ec2: &Ec2, plan: &Ec2ZonePlan, r: &Ec2Restore) -> Result<(), FaultError> {
    let expires = SystemTime::now() + plan.expire_after;
    let vpcs: BTreeSet<&str> = r.subnets.iter().map(|s| s.vpc.as_str()).collect();
    for vpc in vpcs {
        let in_vpc: Vec<&SubnetAcl> = r.subnets.iter().filter(|s| s.vpc == vpc).collect();
        let acl = ec2
            .create_acl(vpc, &acl_tags(&r.run_id, &r.fault, expires, &in_vpc))
            .await?;
        let ids: Vec<String> = in_vpc.iter().map(|s| s.subnet.clone()).collect();
        for (subnet, assoc) in ec2.associations(&ids).await? {
            tracing::info!(%subnet, %acl, "isolating subnet");
            ec2.replace_association(&assoc.id, &acl).await?;
        }
        let now = ec2.associations(&ids).await?;
        let off: Vec<&String> = ids
            .iter()
            .filter(|s| now.get(*s).map(|a| &a.acl) != Some(&acl))
            .collect();
        if !off.is_empty() {
            return Err(fail(format!(
                "subnets not on the deny-all ACL {acl}: {off:?}"
            )));
        }
    }
    Ok(())
}

/// Poll until every instance is in one of `goal` (or gone from the answer), at most
/// [`STATE_TIMEOUT`]; the last states seen.
async fn wait_states(
    ec2: &Ec2,
    ids: &[String],
    goal: &[&str],
) -> Result<BTreeMap<String, String>, FaultError> {
    let deadline = Instant::now() + STATE_TIMEOUT;
    loop {
        let states = ec2.instance_states(ids).await?;
        // A terminated instance never reaches another state: waiting would only delay the verdict.
        let hopeless = states
            .values()
            .any(|s| ["terminated", "shutting-down"].contains(&s.as_str()));
        if not_in(&states, ids, goal).is_empty() || hopeless || Instant::now() > deadline {
            return Ok(states);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `id (state)` of each instance not in one of `goal`.
fn not_in(states: &BTreeMap<String, String>, ids: &[String], goal: &[&str]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| match states.get(id) {
            Some(s) if goal.contains(&s.as_str()) => None,
            Some(s) => Some(format!("{id} ({s})")),
            None => Some(format!("{id} (not found)")),
        })
        .collect()
}

/// Revert and verify. Idempotent: what is already as it was is left alone.
pub async fn restore(r: &Ec2Restore) -> Result<String, FaultError> {
    let ec2 = Ec2::connect(&r.region).await;
    let mut done = Vec::new();
    let mut problems = Vec::new();
    for step in [
        start_stopped(&ec2, r).await,
        restore_subnets(&ec2, r).await,
        delete_deny_acls(&ec2, r).await,
    ] {
        match step {
            Ok(Some(note)) => done.push(note),
            Ok(None) => {}
            Err(e) => problems.push(e.to_string()),
        }
    }
    match verify(&ec2, r).await {
        Ok(mismatches) => problems.extend(mismatches),
        Err(e) => problems.push(format!("could not verify: {e}")),
    }
    let zone = format!("EC2 zone {} in {}", r.zone, r.region);
    if !problems.is_empty() {
        return Err(fail(format!(
            "{zone} is not as it was: {}",
            problems.join("; ")
        )));
    }
    let verified = "verified: every instance it stopped is running and every subnet is on its original network ACL";
    Ok(if done.is_empty() {
        format!("nothing to do: {zone} is as it was ({verified})")
    } else {
        format!("{zone}: {}; {verified}", done.join(", "))
    })
}

/// Start the journaled instances that are stopped (waiting for `stopping` ones first);
/// never one the journal does not name.
async fn start_stopped(ec2: &Ec2, r: &Ec2Restore) -> Result<Option<String>, FaultError> {
    if r.instances.is_empty() {
        return Ok(None);
    }
    let mut states = ec2.instance_states(&r.instances).await?;
    if states.values().any(|s| s == "stopping") {
        states = wait_states(ec2, &r.instances, &["stopped", "running", "pending"]).await?;
    }
    let stopped: Vec<String> = r
        .instances
        .iter()
        .filter(|id| states.get(*id).is_some_and(|s| s == "stopped"))
        .cloned()
        .collect();
    if stopped.is_empty() {
        return Ok(None);
    }
    ec2.start(&stopped).await?;
    Ok(Some(format!("started {}", stopped.join(" "))))
}

/// Put every journaled subnet back on its original ACL.
async fn restore_subnets(ec2: &Ec2, r: &Ec2Restore) -> Result<Option<String>, FaultError> {
    let ids: Vec<String> = r.subnets.iter().map(|s| s.subnet.clone()).collect();
    let now = ec2.associations(&ids).await?;
    let mut moved = Vec::new();
    for s in &r.subnets {
        match now.get(&s.subnet) {
            Some(a) if a.acl != s.acl => {
                ec2.replace_association(&a.id, &s.acl).await?;
                moved.push(format!("{} back on {}", s.subnet, s.acl));
            }
            Some(_) => {}
            None => {
                return Err(fail(format!(
                    "subnet {} has no network ACL association",
                    s.subnet
                )))
            }
        }
    }
    Ok((!moved.is_empty()).then(|| moved.join(", ")))
}

/// Delete the deny-all ACLs this fault made, found by their tags.
async fn delete_deny_acls(ec2: &Ec2, r: &Ec2Restore) -> Result<Option<String>, FaultError> {
    if r.subnets.is_empty() {
        return Ok(None);
    }
    let (run_tag, fault_tag) = (format!("tag:{TAG_RUN}"), format!("tag:{TAG_FAULT}"));
    let acls = ec2
        .acls(&[
            (run_tag.as_str(), vec![r.run_id.clone()]),
            (fault_tag.as_str(), vec![r.fault.clone()]),
        ])
        .await?;
    let mut deleted = Vec::new();
    for acl in acls {
        ec2.delete_acl(&acl.id).await?;
        deleted.push(acl.id);
    }
    Ok((!deleted.is_empty()).then(|| format!("deleted deny-all ACL {}", deleted.join(" "))))
}

/// What differs from the journal's originals, after waiting for starts to finish.
async fn verify(ec2: &Ec2, r: &Ec2Restore) -> Result<Vec<String>, FaultError> {
    let mut mismatches = Vec::new();
    if !r.instances.is_empty() {
        let states = wait_states(ec2, &r.instances, &["running"]).await?;
        let not = not_in(&states, &r.instances, &["running"]);
        if !not.is_empty() {
            mismatches.push(format!("instances not running: {}", not.join(", ")));
        }
    }
    let ids: Vec<String> = r.subnets.iter().map(|s| s.subnet.clone()).collect();
    let now = ec2.associations(&ids).await?;
    for s in &r.subnets {
        let acl = now.get(&s.subnet).map_or("none", |a| a.acl.as_str());
        if acl != s.acl {
            mismatches.push(format!("subnet {} is on {acl}, not {}", s.subnet, s.acl));
        }
    }
    Ok(mismatches)
}
