//! Pure choices over what the API server listed: which pods a fault may touch, the
//! blast-radius caps, the `pods:` fault's pick, and label-selector syntax.

use super::spec::PodCap;
use crate::percent::Percent;
use serde::{Deserialize, Serialize};

/// A pod, as journaled and reported: `namespace/name`, and its node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What a listed pod says about whether a fault should touch it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub pod: PodRef,
    /// The kind of its controller (`ReplicaSet`, `DaemonSet`, ...), if any.
    pub owner_kind: Option<String>,
    /// A static pod's mirror (the kubelet owns it; the API cannot evict it).
    pub mirror: bool,
    /// `Succeeded` or `Failed`: nothing left to disrupt.
    pub finished: bool,
    /// Already being deleted.
    pub terminating: bool,
}

impl PodInfo {
    /// Why the fault leaves this pod alone, as `kubectl drain` does, if it does:
    /// a DaemonSet's pod comes back on the same node at once, a mirror pod cannot be
    /// evicted, a finished or terminating pod has nothing left to lose.
    pub fn skip_reason(&self) -> Option<&'static str> {
        if self.owner_kind.as_deref() == Some("DaemonSet") {
            Some("DaemonSet pod")
        } else if self.mirror {
            Some("static (mirror) pod")
        } else if self.finished {
            Some("finished pod")
        } else if self.terminating {
            Some("already terminating")
        } else {
            None
        }
    }
}

/// A listed node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    pub unschedulable: bool,
}

/// The pods a fault may touch (the rest with why not).
pub fn disruptable(pods: Vec<PodInfo>) -> (Vec<PodRef>, Vec<(PodRef, &'static str)>) {
    let mut take = Vec::new();
    let mut skipped = Vec::new();
    for p in pods {
        match p.skip_reason() {
            Some(why) => skipped.push((p.pod, why)),
            None => take.push(p.pod),
        }
    }
    take.sort();
    skipped.sort();
    (take, skipped)
}

/// The blast-radius caps, checked before the first change: `Err` says which one the
/// selection exceeds.
pub fn check_caps(
    nodes: usize,
    pods: usize,
    all_matching: usize,
    max_nodes: Option<u32>,
    max_pods: Option<PodCap>,
) -> Result<(), String> {
    if let Some(max) = max_nodes {
        if nodes > max as usize {
            return Err(format!(
                "{nodes} nodes would be touched, more than max_nodes {max}"
            ));
        }
    }
    match max_pods {
        Some(PodCap::Count(max)) if pods as u64 > max => Err(format!(
            "{pods} pods would be touched, more than max_pods {max}"
        )),
        Some(PodCap::Share(share))
            if !share.is_not_exceeded_by(pods as u64, all_matching as u64) =>
        {
            Err(format!(
                "{pods} of the {all_matching} matching pods would be touched, more than max_pods {}%",
                share.number()
            ))
        }
        _ => Ok(()),
    }
}

/// How the `pods:` fault picks, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Pick {
    One,
    All,
    Fixed(u64),
    Share(Percent),
}

impl Pick {
    /// How many of `n` pods it takes: a share rounds down but takes at least one.
    pub fn count(self, n: usize) -> usize {
        let wanted = match self {
            Pick::One => 1,
            Pick::All => n,
            Pick::Fixed(k) => usize::try_from(k).unwrap_or(usize::MAX),
            Pick::Share(p) => usize::try_from(p.of(n as u64)).unwrap_or(n).max(1),
        };
        wanted.min(n)
    }

    /// In words, for `plan` ("delete {this} of the pods ...").
    pub fn describe(self) -> String {
        match self {
            Pick::One => "one".into(),
            Pick::All => "all".into(),
            Pick::Fixed(k) => k.to_string(),
            Pick::Share(p) => format!("{}%", p.number()),
        }
    }
}

/// `pick.count(pods.len())` pods chosen at random, sorted by name.
pub fn pick(mut pods: Vec<PodRef>, how: Pick, rng: &mut fastrand::Rng) -> Vec<PodRef> {
    let k = how.count(pods.len());
    rng.shuffle(&mut pods);
    pods.truncate(k);
    pods.sort();
    pods
}

/// Check the syntax of a label selector (`app=web,tier!=db,env in (a,b),!canary`), so a
/// typo fails `validate` rather than the run.
pub fn check_selector(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Err("must not be empty".into());
    }
    split_terms(selector)?
        .iter()
        .try_for_each(|t| check_term(t.trim()))
}

fn split_terms(selector: &str) -> Result<Vec<&str>, String> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err("unbalanced parentheses".into());
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    terms.push(&selector[start..]);
    Ok(terms)
}

fn check_term(term: &str) -> Result<(), String> {
    if term.is_empty() {
        return Err("has an empty term".into());
    }
    if let Some(key) = term.strip_prefix('!') {
        return check_key(key.trim());
    }
    for op in [" notin ", " in "] {
        if let Some((key, set)) = term.split_once(op) {
            check_key(key.trim())?;
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("`{term}`: the set must be in parentheses"))?;
            return inner.split(',').try_for_each(|v| check_value(v.trim()));
        }
    }
    for op in ["==", "!=", "="] {
        if let Some((key, value)) = term.split_once(op) {
            check_key(key.trim())?;
            return check_value(value.trim());
        }
    }
    check_key(term)
}

fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 316
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    ok.then_some(())
        .ok_or_else(|| format!("`{key}` is not a label key"))
}

fn check_value(value: &str) -> Result<(), String> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(())
        .ok_or_else(|| format!("`{value}` is not a label value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> PodRef {
        PodRef {
            namespace: "shop".into(),
            name: name.into(),
            node: None,
        }
    }

    #[test]
    fn selectors_in_every_form_pass_and_typos_fail() {
        for ok in [
            "app=web",
            "app==web,tier!=db",
            "env in (a, b),!canary",
            "topology.kubernetes.io/zone=a",
            "x notin (c)",
            "present",
        ] {
            assert_eq!(check_selector(ok), Ok(()), "{ok}");
        }
        for bad in ["", "app=we b", "app=web,", "env in a,b", "a=(b", "app=web)"] {
            assert!(check_selector(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn caps_refuse_more_nodes_or_pods_than_allowed() {
        assert!(check_caps(3, 10, 30, Some(3), Some(PodCap::Count(10))).is_ok());
        let nodes = check_caps(4, 10, 30, Some(3), None).unwrap_err();
        assert!(
            nodes.contains("4 nodes") && nodes.contains("max_nodes 3"),
            "{nodes}"
        );
        let pods = check_caps(1, 11, 30, None, Some(PodCap::Count(10))).unwrap_err();
        assert!(pods.contains("11 pods"), "{pods}");
        let share = Some(PodCap::Share(Percent::parse("40%").unwrap()));
        assert!(check_caps(1, 4, 10, None, share).is_ok());
        let over = check_caps(1, 5, 10, None, share).unwrap_err();
        assert!(
            over.contains("5 of the 10") && over.contains("40%"),
            "{over}"
        );
    }

    #[test]
    fn picks_take_the_asked_number_of_distinct_pods() {
        let pods: Vec<PodRef> = (0..10).map(|i| pod(&format!("web-{i}"))).collect();
        let mut rng = fastrand::Rng::with_seed(7);
        assert_eq!(pick(pods.clone(), Pick::One, &mut rng).len(), 1);
        assert_eq!(pick(pods.clone(), Pick::All, &mut rng), pods);
        let three = pick(pods.clone(), Pick::Fixed(3), &mut rng);
        assert_eq!(three.len(), 3);
        assert!(three.windows(2).all(|w| w[0] < w[1]), "distinct and sorted");
        let share = Pick::Share(Percent::parse("25%").unwrap());
        assert_eq!(pick(pods.clone(), share, &mut rng).len(), 2);
        assert_eq!(Pick::Share(Percent::parse("1%").unwrap()).count(10), 1);
        assert_eq!(Pick::Fixed(30).count(10), 10);
        assert!(pick(Vec::new(), Pick::One, &mut rng).is_empty());
    }

    #[test]
    fn daemonset_mirror_finished_and_terminating_pods_are_left_alone() {
        let info = |name: &str, owner: Option<&str>, mirror, finished, terminating| PodInfo {
            pod: pod(name),
            owner_kind: owner.map(String::from),
            mirror,
            finished,
            terminating,
        };
        let (take, skipped) = disruptable(vec![
            info("web-1", Some("ReplicaSet"), false, false, false),
            info("agent", Some("DaemonSet"), false, false, false),
            info("etcd", None, true, false, false),
            info("job", Some("Job"), false, true, false),
            info("old", Some("ReplicaSet"), false, false, true),
            info("bare", None, false, false, false),
        ]);
        assert_eq!(take, vec![pod("bare"), pod("web-1")]);
        let why: Vec<&str> = skipped.iter().map(|(_, w)| *w).collect();
        assert_eq!(why.len(), 4);
        assert!(why.contains(&"DaemonSet pod") && why.contains(&"static (mirror) pod"));
    }
}
