//! Experiment files for end-to-end runs against the embedded demo, as YAML text.

/// The `target:` block of a demo on `port` with `zones` (YAML flow list, `[a, b]`) of
/// `replicas` each; with `health_check`, one that notices a lost zone within 200 ms.
pub fn demo_target(port: u16, zones: &str, replicas: u32, health_check: bool) -> String {
    let mut text = format!(
        "target:\n  demo:\n    listen: 127.0.0.1:{port}\n    zones: {zones}\n    replicas_per_zone: {replicas}\n"
    );
    if health_check {
        text.push_str(
            "    health_check:\n      interval: 100ms\n      unhealthy_threshold: 2\n      healthy_threshold: 2\n",
        );
    }
    text
}

/// The `name:`, `duration:` and `target:` lines of a run on a one-zone, one-replica demo.
pub fn demo_head(name: &str, duration: &str, port: u16) -> String {
    format!(
        "name: {name}\nduration: {duration}\n{}",
        demo_target(port, "[a]", 1, false)
    )
}

/// A run that loses zone `a` of the demo while an HTTP probe on `/checkout` samples
/// every 10 ms.
pub struct ZoneLoss<'a> {
    pub name: &'a str,
    pub duration: &'a str,
    pub zones: &'a str,
    pub replicas_per_zone: u32,
    pub health_check: bool,
    /// The `sla:` block's lines, each ending in a newline; empty for no `sla:`.
    pub sla: &'a str,
    pub fault_at: &'a str,
    pub fault_for: &'a str,
}

impl ZoneLoss<'_> {
    pub fn yaml(&self, port: u16) -> String {
        let target = demo_target(port, self.zones, self.replicas_per_zone, self.health_check);
        let sla = if self.sla.is_empty() {
            String::new()
        } else {
            format!("sla:\n{}", self.sla)
        };
        let ZoneLoss {
            name,
            duration,
            fault_at,
            fault_for,
            ..
        } = self;
        format!(
            r#"name: {name}
duration: {duration}
{target}{sla}probes:
  - name: checkout
    http:
      url: http://127.0.0.1:{port}/checkout
      interval: 10ms
      timeout: 500ms
faults:
  - name: lose-zone-a
    at: {fault_at}
    duration: {fault_for}
    az_loss:
      zone: a
"#
        )
    }
}

/// A run on the demo that pauses (SIGSTOPs) the process `victim` from 300 ms for
/// `fault_for`, while an HTTP probe `web` samples the demo.
pub struct PauseRun<'a> {
    pub name: &'a str,
    pub run_for: &'a str,
    pub fault_for: &'a str,
    /// The `sla:` block's lines, without the last newline.
    pub sla: &'a str,
    pub probe_interval: &'a str,
    /// More entries of `faults:`, after the pause.
    pub more_faults: &'a str,
}

impl PauseRun<'_> {
    pub fn yaml(&self, port: u16, victim: u32) -> String {
        let head = demo_head(self.name, self.run_for, port);
        let PauseRun {
            fault_for,
            sla,
            probe_interval,
            more_faults,
            ..
        } = self;
        format!(
            r#"{head}sla:
{sla}
probes:
  - name: web
    http:
      url: http://127.0.0.1:{port}/
      interval: {probe_interval}
      timeout: 200ms
faults:
  - name: freeze
    at: 300ms
    duration: {fault_for}
    process:
      pid: {victim}
      action: pause
{more_faults}"#
        )
    }
}
