//! `az_loss`: one availability zone lost in every layer the fault names, all at once,
//! and brought back together.
//!
//! `az_loss: {zone: a, demo: {mode: crash}}` names the zone once and one key per layer
//! (`demo:`, `ec2:`, `kubernetes:`). Each layer is
//! a backend's zone loss; this module only fans the zone out to them. `az_loss: {zone,
//! mode}` without a layer key is shorthand for the demo layer.
//!
//! A zone with one layer journals that layer's undo as it is; with several, one
//! `zone_up` undo holding each layer's, so a revert (or a rollback) always tries every
//! layer even if one fails.

use super::demo::{self, AzLossMode, DemoZoneLossSpec};
use super::ec2::{self, Ec2ZoneLossSpec};
use super::kubernetes::{self, KubernetesZoneSpec};
use super::{CompileContext, FaultContext, FaultError, Undo};
use crate::spec::check::Errors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzLossSpec {
    pub zone: String,
    /// The demo deployment's replicas in the zone.
    #[serde(default)]
    pub demo: Option<DemoZoneLossSpec>,
    /// Shorthand: `az_loss: {zone: a, mode: blackhole}` = `demo: {mode: blackhole}`.
    #[serde(default)]
    pub mode: Option<AzLossMode>,
    /// The zone's EC2 instances and subnets.
    #[serde(default)]
    pub ec2: Option<Ec2ZoneLossSpec>,
    /// The zone's Kubernetes nodes (selected by their zone label).
    #[serde(default)]
    pub kubernetes: Option<KubernetesZoneSpec>,
}

/// A zone loss, resolved: the zone and each layer it goes down in.
#[derive(Debug, Clone, Serialize)]
pub struct AzLossPlan {
    pub zone: String,
    pub layers: Vec<ZoneLayer>,
}

/// One layer of a zone: one variant per backend that can lose a zone.
#[derive(Debug, Clone, Serialize)]
pub enum ZoneLayer {
    Demo(demo::ZoneLossPlan),
    Ec2(ec2::Ec2ZonePlan),
    Kubernetes(kubernetes::ZoneLossPlan),
}

/// Several layers' undos, applied together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ZoneUndo {
    ZoneUp { zone: String, layers: Vec<Undo> },
}

/// Check an `az_loss:` fault at `path`.
pub fn compile(
    s: &AzLossSpec,
    path: &str,
    ctx: &CompileContext,
    e: &mut Errors,
) -> Option<AzLossPlan> {
    let zone_path = format!("{path}.zone");
    let demo_layer = match (&s.demo, s.mode) {
        (Some(_), Some(_)) => {
            e.at(
                format!("{path}.mode"),
                "give `mode` inside `demo:` (`az_loss: {zone, mode}` is the shorthand without it)",
            );
            return None;
        }
        (Some(d), None) => Some((d.mode, format!("{path}.demo"))),
        (None, Some(mode)) => Some((mode, path.to_string())),
        // No other layer named: the shorthand, the demo layer.
        (None, None) if s.ec2.is_none() && s.kubernetes.is_none() => {
            Some((AzLossMode::default(), path.to_string()))
        }
        (None, None) => None,
    };
    let mut layers = Vec::new();
    let mut ok = true;
    if let Some((mode, layer_path)) = demo_layer {
        let target = ctx.target.and_then(super::TargetPlan::demo);
        match demo::compile_zone_loss(&s.zone, mode, target, (&layer_path, &zone_path), e) {
            Some(p) => layers.push(ZoneLayer::Demo(p)),
            None => ok = false,
        }
    }
    if let Some(spec) = &s.ec2 {
        let layer_path = format!("{path}.ec2");
        let paths = (layer_path.as_str(), zone_path.as_str());
        match ec2::compile_zone_loss(spec, &s.zone, ctx.duration, paths, e) {
            Some(p) => layers.push(ZoneLayer::Ec2(p)),
            None => ok = false,
        }
    }
    if let Some(k) = &s.kubernetes {
        let kpath = format!("{path}.kubernetes");
        match kubernetes::compile_zone_loss(&s.zone, k, &kpath, e) {
            Some(p) => layers.push(ZoneLayer::Kubernetes(p)),
            None => ok = false,
        }
    }
    ok.then(|| AzLossPlan {
        zone: s.zone.clone(),
        layers,
    })
}

impl AzLossPlan {
    pub fn describe(&self) -> String {
        self.layers
            .iter()
            .map(|l| match l {
                ZoneLayer::Demo(d) => d.describe(),
                ZoneLayer::Ec2(x) => x.describe(),
                ZoneLayer::Kubernetes(k) => k.describe(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Why losing this zone is destructive (see [`super::FaultKind::destructive`]):
    /// the first layer that acts on shared infrastructure says what it does.
    pub fn destructive(&self) -> Option<String> {
        self.layers.iter().find_map(|l| match l {
            ZoneLayer::Demo(_) => None,
            ZoneLayer::Ec2(x) => Some(x.destructive()),
            ZoneLayer::Kubernetes(k) => Some(k.destructive()),
        })
    }

    pub fn exclusive_keys(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|l| match l {
                ZoneLayer::Demo(d) => d.exclusive_key(),
                ZoneLayer::Ec2(x) => x.exclusive_key(),
                ZoneLayer::Kubernetes(k) => k.exclusive_key(),
            })
            .collect()
    }

    /// Every layer's undo, as one. Changes nothing.
    /// Preflight, read-only: the zone exists in every layer.
    pub async fn preflight(&self) -> Result<String, FaultError> {
        let mut found = Vec::new();
        for layer in &self.layers {
            found.push(match layer {
                ZoneLayer::Demo(d) => demo::preflight(d).await?,
                ZoneLayer::Ec2(x) => ec2::preflight(x).await?,
                ZoneLayer::Kubernetes(k) => kubernetes::preflight_zone(k).await?,
            });
        }
        Ok(found.join("; "))
    }

    pub async fn prepare(&self, fault: &str, ctx: &FaultContext) -> Result<Undo, FaultError> {
        let mut undos = Vec::new();
        for layer in &self.layers {
            undos.push(match layer {
                ZoneLayer::Demo(d) => Undo::Demo(demo::prepare(d)),
                ZoneLayer::Ec2(x) => Undo::Ec2(ec2::prepare(x, &ctx.run_id, fault).await?),
                ZoneLayer::Kubernetes(k) => Undo::Kubernetes(kubernetes::prepare_zone(k).await?),
            });
        }
        Ok(match undos.len() {
            1 => undos.remove(0),
            _ => Undo::Zone(ZoneUndo::ZoneUp {
                zone: self.zone.clone(),
                layers: undos,
            }),
        })
    }

    /// Take the zone down in each layer, in order. A failure stops here: the engine then
    /// applies the whole undo, which brings back the layers already down. Returns what
    /// the layers that chose their targets did.
    pub async fn inject(&self, undo: &Undo) -> Result<Option<String>, FaultError> {
        let undos = match undo {
            Undo::Zone(ZoneUndo::ZoneUp { layers, .. }) => layers.as_slice(),
            single => std::slice::from_ref(single),
        };
        if undos.len() != self.layers.len() {
            return Err(FaultError::Target(
                "internal: a zone loss with a foreign undo".into(),
            ));
        }
        let mut notes = Vec::new();
        for pair in self.layers.iter().zip(undos) {
            match pair {
                (ZoneLayer::Demo(d), Undo::Demo(_)) => demo::inject(d).await?,
                (ZoneLayer::Ec2(x), Undo::Ec2(u)) => ec2::inject(x, u).await?,
                (ZoneLayer::Kubernetes(k), Undo::Kubernetes(u)) => {
                    notes.push(kubernetes::inject_zone(k, u).await?)
                }
                _ => {
                    return Err(FaultError::Target(
                        "internal: a zone layer with a foreign undo".into(),
                    ))
                }
            }
        }
        Ok((!notes.is_empty()).then(|| notes.join("; ")))
    }
}

impl ZoneUndo {
    /// A layer's undo that must not be applied from a journal, if any.
    pub fn distrust(&self) -> Option<String> {
        let ZoneUndo::ZoneUp { layers, .. } = self;
        layers.iter().find_map(Undo::distrust)
    }

    /// Bring every layer back, even when one fails; fail if any did.
    pub async fn apply(&self) -> Result<String, FaultError> {
        let ZoneUndo::ZoneUp { zone, layers } = self;
        let mut notes = Vec::new();
        let mut errors = Vec::new();
        for layer in layers {
            match Box::pin(layer.apply()).await {
                Ok(note) => notes.push(note),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(notes.join("; "))
        } else {
            Err(FaultError::Target(format!(
                "zone `{zone}` is not back in every layer: {}",
                errors.join("; ")
            )))
        }
    }

    pub fn manual_fix(&self) -> String {
        let ZoneUndo::ZoneUp { layers, .. } = self;
        layers
            .iter()
            .map(Undo::manual_fix)
            .collect::<Vec<_>>()
            .join("; ")
    }
}
