//! Pure checks of `proxies:` and of the faults on them; their `plan` text and
//! exclusive-target keys.

use super::spec::{LatencyFaultSpec, NetworkFaultSpec, ProxySpec, StreamSpec};
use crate::proxy::toxic::{
    Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Stream, Timeout,
};
use crate::proxy::{ToxicKind, ToxicSpec};
use crate::spec::check::{check_exposure, exactly_one, loopback_addr, unknown_name, Errors};
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct ProxyPlan {
    pub name: String,
    /// Where it listens; unknown until the run for a remote proxy used as it is.
    pub listen: Option<SocketAddr>,
    pub upstream: Option<String>,
    /// `None`: built in, started by the run. `Some(url)`: lives in that Toxiproxy API.
    pub api: Option<String>,
}

/// A fault on one proxy, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyFault {
    pub proxy: String,
    /// `None`: the run's built-in proxy.
    pub api: Option<String>,
    pub action: ProxyAction,
}

#[derive(Debug, Clone, Serialize)]
pub enum ProxyAction {
    /// Toxics added to the proxy.
    Toxics(Vec<ToxicSpec>),
    /// The proxy disabled: no new connections, open ones closed.
    Down,
}

/// Check every entry of `proxies:`.
pub fn compile_proxies(specs: &[ProxySpec], e: &mut Errors) -> Vec<ProxyPlan> {
    let mut names = BTreeSet::new();
    specs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = format!("proxies[{i}]");
            if !names.insert(p.name.as_str()) {
                e.at(
                    format!("{path}.name"),
                    format!("duplicate proxy name `{}`", p.name),
                );
            }
            compile_proxy(p, &path, e)
        })
        .collect()
}

fn compile_proxy(p: &ProxySpec, path: &str, e: &mut Errors) -> ProxyPlan {
    let listen = p
        .listen
        .as_deref()
        .and_then(|l| loopback_addr(l, &format!("{path}.listen"), e));
    check_exposure(listen, p.expose, path, e);
    if let Some(u) = &p.upstream {
        if !u.contains(':') {
            e.at(
                format!("{path}.upstream"),
                format!("`{u}` is not host:port"),
            );
        }
    }
    match &p.api {
        None => {
            if p.listen.is_none() {
                e.at(path, "a built-in proxy needs `listen` (and `upstream`)");
            }
            if p.upstream.is_none() {
                e.at(path, "a built-in proxy needs `upstream`");
            }
        }
        Some(api) => {
            if !api.starts_with("http://") || api.parse::<hyper::Uri>().is_err() {
                e.at(
                    format!("{path}.api"),
                    format!("`{api}` is not an http:// URL like http://127.0.0.1:8474"),
                );
            }
            if p.listen.is_some() != p.upstream.is_some() {
                e.at(path, "give both `listen` and `upstream` (to create the proxy) or neither (to use it as it is)");
            }
        }
    }
    ProxyPlan {
        name: p.name.clone(),
        listen,
        upstream: p.upstream.clone(),
        api: p.api.clone(),
    }
}

/// The `proxies` section of `shakeout plan`, one line per proxy.
pub fn describe_proxies(proxies: &[ProxyPlan]) -> Vec<String> {
    proxies
        .iter()
        .map(|p| {
            let listen = p
                .listen
                .map(|l| l.to_string())
                .unwrap_or_else(|| "(as configured)".into());
            let upstream = p
                .upstream
                .clone()
                .unwrap_or_else(|| "(as configured)".into());
            let place = match &p.api {
                None => "built in".to_string(),
                Some(api) => format!("in the Toxiproxy server at {api}"),
            };
            format!("{}: {listen} -> {upstream}, {place}", p.name)
        })
        .collect()
}

/// Check a `latency:` fault named `fault` at `path`.
pub fn compile_latency(
    fault: &str,
    l: &LatencyFaultSpec,
    path: &str,
    proxies: &[ProxyPlan],
    e: &mut Errors,
) -> Option<ProxyFault> {
    let proxy = find_proxy(&l.proxy, &format!("{path}.proxy"), proxies, e);
    let tox = toxicity(l.toxicity, &format!("{path}.toxicity"), e);
    let jitter = l.jitter.map_or(Duration::ZERO, |d| d.0);
    if l.latency.0.subsec_micros() % 1000 != 0 || jitter.subsec_micros() % 1000 != 0 {
        e.at(path, "latency and jitter are applied in whole milliseconds");
    }
    if jitter > l.latency.0 {
        e.at(
            format!("{path}.jitter"),
            "jitter larger than the latency would make some delays negative",
        );
    }
    let kind = ToxicKind::Latency(Latency {
        latency: ms(l.latency.0),
        jitter: ms(jitter),
    });
    let toxics = toxics_for(fault, kind, l.stream, tox);
    Some(ProxyFault::on(proxy?, ProxyAction::Toxics(toxics)))
}

/// Check a `network:` fault named `fault` at `path`.
pub fn compile_network(
    fault: &str,
    n: &NetworkFaultSpec,
    path: &str,
    proxies: &[ProxyPlan],
    e: &mut Errors,
) -> Option<ProxyFault> {
    let proxy = find_proxy(&n.proxy, &format!("{path}.proxy"), proxies, e);
    let tox = toxicity(n.toxicity, &format!("{path}.toxicity"), e);
    let keys = [
        ("bandwidth", n.bandwidth.is_some()),
        ("slow_close", n.slow_close.is_some()),
        ("timeout", n.timeout.is_some()),
        ("reset_peer", n.reset_peer.is_some()),
        ("slicer", n.slicer.is_some()),
        ("limit_data", n.limit_data.is_some()),
        ("down", n.down.is_some()),
    ];
    if !exactly_one(e, path, "network fault", &keys) {
        return None;
    }
    let action = match network_toxic(n, path, e) {
        Some(kind) => ProxyAction::Toxics(toxics_for(fault, kind, n.stream, tox)),
        None => {
            check_down(n, path, e);
            ProxyAction::Down
        }
    };
    Some(ProxyFault::on(proxy?, action))
}

/// The toxic a `network:` fault asks for; `None` for `down`.
fn network_toxic(n: &NetworkFaultSpec, path: &str, e: &mut Errors) -> Option<ToxicKind> {
    if let Some(b) = &n.bandwidth {
        return Some(ToxicKind::Bandwidth(Bandwidth { rate: b.rate }));
    }
    if let Some(s) = &n.slow_close {
        return Some(ToxicKind::SlowClose(SlowClose {
            delay: ms(s.delay.0),
        }));
    }
    if let Some(t) = &n.timeout {
        return Some(ToxicKind::Timeout(Timeout {
            timeout: ms(t.timeout.0),
        }));
    }
    if let Some(t) = &n.reset_peer {
        return Some(ToxicKind::ResetPeer(ResetPeer {
            timeout: ms(t.timeout.0),
        }));
    }
    if let Some(s) = &n.slicer {
        if s.average_size == 0 || s.size_variation >= s.average_size {
            e.at(
                format!("{path}.slicer"),
                "needs average_size > 0 and size_variation < average_size",
            );
        }
        return Some(ToxicKind::Slicer(Slicer {
            average_size: s.average_size,
            size_variation: s.size_variation,
            delay: s.delay.0.as_micros() as u64,
        }));
    }
    n.limit_data
        .as_ref()
        .map(|l| ToxicKind::LimitData(LimitData { bytes: l.bytes }))
}

fn check_down(n: &NetworkFaultSpec, path: &str, e: &mut Errors) {
    if n.down != Some(true) {
        e.at(
            format!("{path}.down"),
            "write `down: true` (the proxy is taken down for the fault's duration)",
        );
    }
    if n.stream != StreamSpec::Downstream || n.toxicity.is_some() {
        e.at(
            path,
            "`stream` and `toxicity` do not apply to `down` (the whole proxy goes down)",
        );
    }
}

/// The proxy a fault names, or an error listing the defined ones.
fn find_proxy<'a>(
    name: &str,
    path: &str,
    proxies: &'a [ProxyPlan],
    e: &mut Errors,
) -> Option<&'a ProxyPlan> {
    let found = proxies.iter().find(|p| p.name == name);
    if found.is_none() {
        let names: Vec<&str> = proxies.iter().map(|p| p.name.as_str()).collect();
        e.at(path, unknown_name("proxy", name, &names));
    }
    found
}

fn toxicity(t: Option<f64>, path: &str, e: &mut Errors) -> f32 {
    match t {
        None => 1.0,
        Some(v) if (0.0..=1.0).contains(&v) => v as f32,
        Some(v) => {
            e.at(path, format!("{v} is not a probability between 0 and 1"));
            1.0
        }
    }
}

fn streams(s: StreamSpec) -> Vec<Stream> {
    match s {
        StreamSpec::Upstream => vec![Stream::Upstream],
        StreamSpec::Downstream => vec![Stream::Downstream],
        StreamSpec::Both => vec![Stream::Upstream, Stream::Downstream],
    }
}

/// One toxic per stream, named after the fault so a rollback can find exactly it.
fn toxics_for(fault: &str, kind: ToxicKind, stream: StreamSpec, toxicity: f32) -> Vec<ToxicSpec> {
    streams(stream)
        .into_iter()
        .map(|st| {
            ToxicSpec::new(kind, st)
                .named(format!("shakeout-{fault}-{}", st.as_str()))
                .with_toxicity(toxicity)
        })
        .collect()
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl ProxyFault {
    fn on(proxy: &ProxyPlan, action: ProxyAction) -> ProxyFault {
        ProxyFault {
            proxy: proxy.name.clone(),
            api: proxy.api.clone(),
            action,
        }
    }

    /// The YAML key the fault was written with.
    pub fn kind_name(&self) -> &'static str {
        match &self.action {
            ProxyAction::Toxics(t)
                if matches!(t.first().map(|t| t.kind), Some(ToxicKind::Latency(_))) =>
            {
                "latency"
            }
            _ => "network",
        }
    }

    pub fn describe(&self) -> String {
        let place = self
            .api
            .as_ref()
            .map(|a| format!(" at {a}"))
            .unwrap_or_default();
        match &self.action {
            ProxyAction::Toxics(toxics) => {
                let what: Vec<String> = toxics.iter().map(describe_toxic).collect();
                format!("{} on proxy `{}`{place}", what.join(" and "), self.proxy)
            }
            ProxyAction::Down => format!(
                "take proxy `{}`{place} down (connections refused and closed)",
                self.proxy
            ),
        }
    }

    /// Taking a proxy down twice at once would end both at the first revert. Toxics
    /// are named per fault: several can be on one proxy at once.
    pub fn exclusive_key(&self) -> Option<String> {
        match self.action {
            ProxyAction::Down => Some(format!("proxy `{}`", self.proxy)),
            ProxyAction::Toxics(_) => None,
        }
    }

    /// The round trip latency the fault asks to add (both streams add it twice), to be
    /// checked against what probes through this proxy measured.
    pub fn added_latency_ms(&self) -> Option<f64> {
        let ProxyAction::Toxics(toxics) = &self.action else {
            return None;
        };
        let per_toxic: Vec<u64> = toxics
            .iter()
            .filter_map(|t| match t.kind {
                ToxicKind::Latency(l) => Some(l.latency),
                _ => None,
            })
            .collect();
        (!per_toxic.is_empty()).then(|| per_toxic.iter().sum::<u64>() as f64)
    }
}

fn describe_toxic(t: &ToxicSpec) -> String {
    let what = match t.kind {
        ToxicKind::Latency(l) if l.jitter > 0 => {
            format!("+{}ms ±{}ms latency", l.latency, l.jitter)
        }
        ToxicKind::Latency(l) => format!("+{}ms latency", l.latency),
        ToxicKind::Bandwidth(b) => format!("bandwidth {} KB/s", b.rate),
        ToxicKind::SlowClose(s) => format!("close delayed {}ms", s.delay),
        ToxicKind::Timeout(t) if t.timeout == 0 => {
            "data swallowed until the fault ends".to_string()
        }
        ToxicKind::Timeout(t) => format!("data swallowed, closed after {}ms", t.timeout),
        ToxicKind::ResetPeer(r) => format!("connections reset {}ms after first data", r.timeout),
        ToxicKind::Slicer(s) => format!(
            "data sliced to {}±{} bytes, {}us apart",
            s.average_size, s.size_variation, s.delay
        ),
        ToxicKind::LimitData(l) => format!("connections closed after {} bytes", l.bytes),
    };
    let share = if t.toxicity < 1.0 {
        format!(", {:.0}% of connections", t.toxicity * 100.0)
    } else {
        String::new()
    };
    format!("{what} ({}{share})", t.stream.as_str())
}
