//! The journal's undo shapes, and a zone lost in several layers coming back together.

use super::az_loss::ZoneUndo;
use super::demo::{AzLossMode, DemoUndo, ZoneLossPlan, ZoneRef};
use super::process::{ProcessRef, ProcessUndo};
use super::proxy::{ProxyRef, ProxyUndo};
use super::*;
use crate::demo::{Demo, DemoConfig, ZoneMode};
use std::net::SocketAddr;
use std::time::Duration;

/// Journals written before the backends had their own undo types must still read, and
/// new ones must be written the same way.
#[test]
fn every_undo_keeps_its_journal_shape() {
    let lines = [
        r#"{"action":"resume","pid":1234,"start_time":99}"#,
        r#"{"action":"restart","pid":1234,"start_time":null,"argv":["sleep","1"],"cwd":"/tmp","log":"/tmp/r.log","pid_file":null}"#,
        r#"{"action":"demo_zone_up","lb":"127.0.0.1:18080","zone":"a","in_process":true}"#,
        r#"{"action":"remove_toxics","proxy":{"api":"http://127.0.0.1:8474","proxy":"p","in_process":false},"toxics":["t"]}"#,
        r#"{"action":"enable_proxy","api":"http://127.0.0.1:8474","proxy":"p","in_process":false}"#,
        r#"{"action":"delete_proxy","api":"http://127.0.0.1:8474","proxy":"p","in_process":false}"#,
        r#"{"action":"postgres_resume_walsenders","primary":"/pg/a","walsenders":[{"pid":77,"start_time":5}]}"#,
        r#"{"action":"postgres_rejoin","node":{"data_dir":"/pg/a","conninfo":"host=127.0.0.1 port=5432","bin_dir":"/usr/lib/postgresql/15/bin","uid":105,"gid":108,"start_opts":""},"source":{"data_dir":"/pg/b","conninfo":"host=127.0.0.1 port=5433","bin_dir":"/usr/lib/postgresql/15/bin","uid":105,"gid":108,"start_opts":""},"killed":{"pid":76,"start_time":4},"rewind":true,"rejoin":true}"#,
        r#"{"action":"demo_store_rejoin","lb":"127.0.0.1:18080","in_process":true}"#,
        r#"{"action":"patroni_await_rejoin","before":{"scope":"c","leader":"pg1","leader_pg":"host=127.0.0.1 port=5432","apis":["http://127.0.0.1:8008"],"timeline":3,"bound_ms":2000},"rejoin_timeout_ms":120000}"#,
        r#"{"action":"patroni_restart_member","before":{"scope":"c","leader":"pg1","leader_pg":null,"apis":["http://127.0.0.1:8008"],"timeline":3,"bound_ms":11000},"member":{"name":"pg1","api":"http://127.0.0.1:8008","patroni":{"pid":70,"start_time":2},"postmaster":{"pid":71,"start_time":3},"data_dir":"/pg/1","uid":65534,"gid":65534},"restart":["/usr/bin/patroni","/etc/patroni/pg1.yml"],"log":"/tmp/k.log","rejoin_timeout_ms":120000}"#,
        r#"{"action":"ec2_zone_restore","region":"us-east-1","zone":"us-east-1a","run_id":"r1","fault":"f","instances":["i-1"],"subnets":[{"subnet":"subnet-1","vpc":"vpc-1","acl":"acl-1"}]}"#,
        r#"{"action":"k8s_uncordon","context":"prod","token":"0a1b2c3d4e5f","nodes":["node-a1"],"pods":[{"namespace":"shop","name":"web-1","node":"node-a1"}]}"#,
        r#"{"action":"k8s_pods_removed","pods":[{"namespace":"shop","name":"web-2"}]}"#,
        r#"{"action":"k8s_unisolate","token":"0a1b2c3d4e5f","pods":[{"namespace":"shop","name":"web-3","node":"node-a2"}]}"#,
    ];
    let undos: Vec<Undo> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let p = ProxyRef {
        api: "http://127.0.0.1:8474".into(),
        proxy: "p".into(),
        in_process: false,
    };
    assert_eq!(
        undos[0],
        Undo::Process(ProcessUndo::Resume(ProcessRef {
            pid: 1234,
            start_time: Some(99)
        }))
    );
    assert!(matches!(undos[1], Undo::Process(ProcessUndo::Restart(_))));
    assert!(matches!(undos[2], Undo::Demo(DemoUndo::DemoZoneUp(_))));
    assert!(matches!(
        undos[3],
        Undo::Proxy(ProxyUndo::RemoveToxics { .. })
    ));
    assert_eq!(undos[4], Undo::Proxy(ProxyUndo::EnableProxy(p.clone())));
    assert_eq!(undos[5], Undo::Proxy(ProxyUndo::DeleteProxy(p)));
    assert!(
        matches!(&undos[6], Undo::Postgres(u) if matches!(**u, postgres::PostgresUndo::PostgresResumeWalsenders { .. }))
    );
    assert!(
        matches!(&undos[7], Undo::Postgres(u) if matches!(**u, postgres::PostgresUndo::PostgresRejoin { rewind: true, .. }))
    );
    assert!(matches!(undos[8], Undo::Demo(DemoUndo::DemoStoreRejoin(_))));
    assert!(
        matches!(&undos[9], Undo::Patroni(u) if matches!(**u, patroni::PatroniUndo::PatroniAwaitRejoin { .. }))
    );
    assert!(
        matches!(&undos[10], Undo::Patroni(u) if matches!(**u, patroni::PatroniUndo::PatroniRestartMember { .. }))
    );
    assert!(matches!(
        &undos[11],
        Undo::Ec2(crate::fault::ec2::Ec2Undo::Ec2ZoneRestore(r)) if r.instances == ["i-1"] && r.subnets[0].acl == "acl-1"
    ));
    assert!(matches!(
        &undos[12],
        Undo::Kubernetes(kubernetes::KubernetesUndo::K8sUncordon { nodes, .. }) if nodes == &["node-a1"]
    ));
    assert!(matches!(
        undos[13],
        Undo::Kubernetes(kubernetes::KubernetesUndo::K8sPodsRemoved { context: None, .. })
    ));
    assert!(matches!(
        undos[14],
        Undo::Kubernetes(kubernetes::KubernetesUndo::K8sUnisolate { .. })
    ));
    for (line, undo) in lines.iter().zip(&undos) {
        let back: serde_json::Value = serde_json::to_value(undo).expect("serialises");
        let want: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(back, want, "{line}");
    }
    assert!(serde_json::from_str::<Undo>(r#"{"action":"reboot_universe"}"#).is_err());
}

/// The kinds list comes from the same table as the spec's fields.
#[test]
fn every_kind_key_is_a_spec_field() {
    let fields = serde_json::to_value(FaultSpec {
        name: "f".into(),
        at: Dur(Duration::ZERO),
        duration: Dur(Duration::ZERO),
        az_loss: None,
        process: None,
        latency: None,
        network: None,
        postgres: None,
        patroni: None,
        db_failover: None,
        pods: None,
    })
    .expect("serialises");
    for key in FaultSpec::KINDS {
        assert!(
            fields.get(key).is_some(),
            "{key} is not a field of FaultSpec"
        );
    }
    assert_eq!(
        FaultSpec::KINDS.len() + 3,
        fields.as_object().map_or(0, |o| o.len())
    );
}

fn zone_up(lb: SocketAddr, zone: &str, in_process: bool) -> Undo {
    Undo::Demo(DemoUndo::DemoZoneUp(ZoneRef {
        lb,
        zone: zone.into(),
        in_process,
    }))
}

fn mode(demo: &Demo, zone: &str) -> Option<ZoneMode> {
    demo.zones()
        .into_iter()
        .find(|(z, _)| z == zone)
        .map(|(_, m)| m)
}

/// Several layers of one zone: every layer is brought back even when another fails,
/// the failure is reported, and a second apply (a rollback) changes nothing more.
#[tokio::test]
async fn a_zone_in_several_layers_comes_back_together() {
    let demo = Demo::start(DemoConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        zones: vec!["a".into(), "b".into()],
        replicas_per_zone: 1,
        ..DemoConfig::default()
    })
    .await
    .expect("demo starts");
    let lb = demo.addr();
    for z in ["a", "b"] {
        let plan = ZoneLossPlan {
            lb,
            zone: z.into(),
            mode: AzLossMode::Crash,
            in_process: true,
        };
        demo::inject(&plan).await.expect("zone down");
        assert_eq!(mode(&demo, z), Some(ZoneMode::Crash));
    }
    // A layer nobody answers for (port 1 refuses), between the two that work.
    let dead: SocketAddr = "127.0.0.1:1".parse().expect("addr");
    let undo = Undo::Zone(ZoneUndo::ZoneUp {
        zone: "a".into(),
        layers: vec![
            zone_up(lb, "a", true),
            zone_up(dead, "a", false),
            zone_up(lb, "b", true),
        ],
    });
    let journaled: Undo =
        serde_json::from_str(&serde_json::to_string(&undo).expect("json")).expect("reads back");
    assert_eq!(journaled, undo);

    let err = tokio::time::timeout(Duration::from_secs(20), undo.apply())
        .await
        .expect("bounded")
        .expect_err("one layer cannot come back");
    assert!(err.to_string().contains("not back in every layer"), "{err}");
    assert_eq!(mode(&demo, "a"), Some(ZoneMode::Up));
    assert_eq!(mode(&demo, "b"), Some(ZoneMode::Up));
    assert!(
        undo.manual_fix().contains("127.0.0.1:1"),
        "{}",
        undo.manual_fix()
    );

    let Undo::Zone(ZoneUndo::ZoneUp { layers, .. }) = &undo else {
        unreachable!("built above")
    };
    for layer in [&layers[0], &layers[2]] {
        let note = layer.apply().await.expect("idempotent");
        assert!(note.contains("is up"), "{note}");
    }
    demo.shutdown().await;
}
