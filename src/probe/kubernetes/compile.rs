//! Pure checks of a `kubernetes:` probe; its `plan` text.

use super::spec::KubernetesProbeSpec;
use crate::spec::check::Errors;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct KubernetesProbePlan {
    pub namespace: String,
    pub selector: String,
    pub min_ready: u32,
    pub context: Option<String>,
}

/// Check a `kubernetes:` probe at `path`.
pub fn compile(s: &KubernetesProbeSpec, path: &str, e: &mut Errors) -> Option<KubernetesProbePlan> {
    let before = e.count();
    if !is_dns_label(&s.namespace) {
        e.at(
            format!("{path}.namespace"),
            format!("`{}` is not a namespace name", s.namespace),
        );
    }
    if s.selector.trim().is_empty() {
        e.at(format!("{path}.selector"), "must not be empty");
    }
    if s.min_ready == 0 {
        e.at(
            format!("{path}.min_ready"),
            "must be at least 1 (0 ready pods would always pass)",
        );
    }
    (e.count() == before).then(|| KubernetesProbePlan {
        namespace: s.namespace.clone(),
        selector: s.selector.clone(),
        min_ready: s.min_ready,
        context: s.context.clone(),
    })
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl KubernetesProbePlan {
    pub fn target(&self) -> String {
        let context = self
            .context
            .as_ref()
            .map_or_else(String::new, |c| format!(" (context {c})"));
        format!(
            "pods {} in namespace {}{context}",
            self.selector, self.namespace
        )
    }

    pub fn success(&self) -> String {
        format!("success = at least {} ready", self.min_ready)
    }
}
