//! Pure checks of an `ec2:` zone-loss layer; its `plan` text and exclusive-target key.

use super::spec::{Ec2Action, Ec2ZoneLossSpec};
use crate::spec::check::Errors;
use serde::Serialize;
use std::time::Duration;

/// Filter names that DescribeInstances and DescribeSubnets both accept (besides
/// `tag:KEY`), so one filter set selects instances and subnets alike.
const SHARED_FILTERS: &[&str] = &["tag-key", "vpc-id", "subnet-id", "owner-id"];

/// How long after its fault should have ended a deny-all ACL counts as left behind:
/// `sweep ec2` removes it only after that.
const EXPIRY_MARGIN: Duration = Duration::from_secs(3600);

/// The zone as written: EC2 zone names differ between accounts, AZ ids do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ZoneSelector {
    /// `us-east-1a`
    Name(String),
    /// `use1-az1`
    Id(String),
}

impl std::fmt::Display for ZoneSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZoneSelector::Name(n) => write!(f, "{n}"),
            ZoneSelector::Id(i) => write!(f, "{i} (AZ id)"),
        }
    }
}

/// Blast-radius caps, checked before the first change.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Caps {
    pub max_instances: Option<u32>,
    pub max_subnets: Option<u32>,
    pub max_percent: Option<f64>,
}

/// An EC2 zone loss, resolved (targets are found at preflight and prepare, by API).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2ZonePlan {
    pub region: String,
    pub zone: ZoneSelector,
    /// `(name, values)`, in the spec's order.
    pub filters: Vec<(String, Vec<String>)>,
    pub stop_instances: bool,
    pub isolate_subnets: bool,
    pub caps: Caps,
    /// Written on each deny-all ACL as its expiry, counted from inject.
    pub expire_after: Duration,
}

/// Check an `ec2:` layer at `path`; `zone` is `az_loss.zone` (at `zone_path`),
/// `duration` the fault's.
pub fn compile_zone_loss(
    s: &Ec2ZoneLossSpec,
    zone: &str,
    duration: Duration,
    (path, zone_path): (&str, &str),
    e: &mut Errors,
) -> Option<Ec2ZonePlan> {
    let region_ok = check_region(&s.region, &format!("{path}.region"), e);
    let zone = region_ok
        .then(|| zone_selector(zone, &s.region, zone_path, e))
        .flatten();
    let filters = check_filters(s, path, e);
    let (stop_instances, isolate_subnets) = check_actions(&s.actions, path, e)?;
    let caps = check_caps(s, (stop_instances, isolate_subnets), path, e)?;
    Some(Ec2ZonePlan {
        region: s.region.clone(),
        zone: zone?,
        filters: filters?,
        stop_instances,
        isolate_subnets,
        caps,
        expire_after: duration + EXPIRY_MARGIN,
    })
}

fn check_region(region: &str, path: &str, e: &mut Errors) -> bool {
    let ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.chars().any(|c| c.is_ascii_digit());
    if !ok {
        e.at(
            path,
            format!("`{region}` is not an AWS region such as us-east-1"),
        );
    }
    ok
}

/// A zone of `region` by name (`us-east-1a`, `us-east-1-bos-1a`), or an AZ id
/// (`use1-az1`, `use1-bos1-az1`).
fn zone_selector(zone: &str, region: &str, path: &str, e: &mut Errors) -> Option<ZoneSelector> {
    let lowercase = zone
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let is_id = zone.rsplit_once("-az").is_some_and(|(head, n)| {
        !head.is_empty() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
    });
    let is_name = zone.len() > region.len() && zone.starts_with(region);
    match (lowercase, is_name, is_id) {
        (true, true, _) => Some(ZoneSelector::Name(zone.to_string())),
        (true, false, true) => Some(ZoneSelector::Id(zone.to_string())),
        _ => {
            e.at(
                path,
                format!(
                    "`{zone}` is neither a zone of region `{region}` (such as {region}a) nor an AZ id (such as use1-az1)"
                ),
            );
            None
        }
    }
}

fn check_filters(
    s: &Ec2ZoneLossSpec,
    path: &str,
    e: &mut Errors,
) -> Option<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (name, values) in &s.filters {
        let fpath = format!("{path}.filters.{name}");
        let shared = name.strip_prefix("tag:").is_some_and(|k| !k.is_empty())
            || SHARED_FILTERS.contains(&name.as_str());
        if !shared {
            e.at(
                &fpath,
                format!(
                    "`{name}` is not a filter both instances and subnets accept; use tag:KEY, {}",
                    SHARED_FILTERS.join(", ")
                ),
            );
            ok = false;
        }
        let values = values.to_vec();
        if values.is_empty() || values.iter().any(|v| v.is_empty()) {
            e.at(&fpath, "give one or more non-empty values");
            ok = false;
        }
        out.push((name.clone(), values));
    }
    ok.then_some(out)
}

/// `(stop_instances, isolate_subnets)`.
fn check_actions(actions: &[Ec2Action], path: &str, e: &mut Errors) -> Option<(bool, bool)> {
    let apath = format!("{path}.actions");
    if actions.is_empty() {
        e.at(
            apath,
            "name at least one of stop_instances, isolate_subnets",
        );
        return None;
    }
    let count = |a| actions.iter().filter(|x| **x == a).count();
    if count(Ec2Action::StopInstances) > 1 || count(Ec2Action::IsolateSubnets) > 1 {
        e.at(apath, "each action may be named once");
        return None;
    }
    Some((
        count(Ec2Action::StopInstances) == 1,
        count(Ec2Action::IsolateSubnets) == 1,
    ))
}

fn check_caps(
    s: &Ec2ZoneLossSpec,
    (stop, isolate): (bool, bool),
    path: &str,
    e: &mut Errors,
) -> Option<Caps> {
    let mut ok = true;
    let mut fail = |field: &str, message: &str| {
        e.at(format!("{path}.{field}"), message);
        ok = false;
    };
    if stop && s.max_instances.is_none() && s.max_percent.is_none() {
        fail(
            "actions",
            "stop_instances needs a blast-radius cap: `max_instances` or `max_percent`",
        );
    }
    for (field, value, applies) in [
        ("max_instances", s.max_instances, stop),
        ("max_subnets", s.max_subnets, isolate),
    ] {
        match value {
            Some(0) => fail(field, "must be at least 1"),
            Some(_) if !applies => fail(field, "the action it caps is not in `actions`"),
            _ => {}
        }
    }
    match s.max_percent {
        Some(p) if !(p > 0.0 && p <= 100.0) => {
            fail("max_percent", "must be above 0 and at most 100")
        }
        Some(_) if !stop => fail(
            "max_percent",
            "caps stop_instances, which is not in `actions`",
        ),
        _ => {}
    }
    ok.then_some(Caps {
        max_instances: s.max_instances,
        max_subnets: s.max_subnets,
        max_percent: s.max_percent,
    })
}

impl Ec2ZonePlan {
    /// The line in `shakeout plan`; the targets themselves are listed by preflight.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.stop_instances {
            what.push(format!(
                "stop its running instances{}",
                self.instance_caps()
            ));
        }
        if self.isolate_subnets {
            let cap = self
                .caps
                .max_subnets
                .map_or(String::new(), |n| format!(" (at most {n})"));
            what.push(format!("swap a deny-all network ACL onto its subnets{cap}"));
        }
        format!(
            "lose EC2 zone {} in {} ({}): {}; revert restores exactly what was changed; `shakeout plan --preflight` lists every instance and subnet",
            self.zone,
            self.region,
            self.filter_text(),
            what.join(", ")
        )
    }

    fn instance_caps(&self) -> String {
        let mut caps = Vec::new();
        if let Some(n) = self.caps.max_instances {
            caps.push(format!("at most {n}"));
        }
        if let Some(p) = self.caps.max_percent {
            caps.push(format!(
                "at most {p}% of the region's matching running instances"
            ));
        }
        if caps.is_empty() {
            String::new()
        } else {
            format!(" ({})", caps.join(", "))
        }
    }

    /// `tag:app=checkout, vpc-id=vpc-1|vpc-2`, or that nothing filters.
    pub fn filter_text(&self) -> String {
        if self.filters.is_empty() {
            return "every instance and subnet, no filters".into();
        }
        let parts: Vec<String> = self
            .filters
            .iter()
            .map(|(k, v)| format!("{k}={}", v.join("|")))
            .collect();
        format!("matching {}", parts.join(", "))
    }

    /// What it does to shared infrastructure, for the `--allow-destructive` refusal.
    pub fn destructive(&self) -> String {
        let mut what = Vec::new();
        if self.stop_instances {
            what.push("stops EC2 instances");
        }
        if self.isolate_subnets {
            what.push("cuts EC2 subnets off the network");
        }
        format!(
            "{} in zone {} of {}",
            what.join(" and "),
            self.zone,
            self.region
        )
    }

    /// Two losses of one EC2 zone must not overlap: the first revert would end both.
    pub fn exclusive_key(&self) -> String {
        let zone = match &self.zone {
            ZoneSelector::Name(n) | ZoneSelector::Id(n) => n,
        };
        format!("EC2 zone `{zone}` in {}", self.region)
    }
}
