//! The `ec2:` layer of `az_loss` against a real EC2 API: moto's server on loopback,
//! with a VPC, three subnets tagged app=checkout in three zones, one untagged subnet,
//! and tagged and untagged instances in each zone. Only built with `--features aws`.
#![cfg(feature = "aws")]

mod util;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Output};
use std::time::Duration;
use util::moto::Moto;
use util::*;

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const DOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The account as the test built it, and a client to look at it.
struct World {
    moto: Moto,
    rt: tokio::runtime::Runtime,
    ec2: Client,
    vpc: String,
    default_acl: String,
    /// Per zone: the app=checkout subnet.
    subnets: Vec<String>,
    untagged_subnet_a: String,
    /// Per zone: the running app=checkout instances.
    tagged: Vec<Vec<String>>,
    /// Per zone: one running instance without the tag.
    untagged: Vec<String>,
    /// An app=checkout instance in zone a that was stopped before the run.
    stopped_before: String,
    /// Keeps the probe's target listening.
    _probe_target: TcpListener,
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn client(endpoint: &str) -> Client {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

impl World {
    fn start() -> Option<World> {
        let moto = Moto::start()?;
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let ec2 = client(&moto.endpoint());
        let vpc = rt.block_on(async {
            let v = ec2
                .create_vpc()
                .cidr_block("10.0.0.0/16")
                .send()
                .await
                .expect("vpc");
            v.vpc()
                .and_then(|v| v.vpc_id())
                .expect("vpc id")
                .to_string()
        });
        let mut w = World {
            moto,
            rt,
            ec2,
            default_acl: String::new(),
            vpc,
            subnets: Vec::new(),
            untagged_subnet_a: String::new(),
            tagged: Vec::new(),
            untagged: Vec::new(),
            stopped_before: String::new(),
            _probe_target: TcpListener::bind("127.0.0.1:0").expect("bind probe target"),
        };
        w.populate();
        Some(w)
    }

    fn populate(&mut self) {
        for (i, zone) in ZONES.iter().enumerate() {
            let subnet = self.subnet(zone, &format!("10.0.{}.0/24", i + 1), true);
            self.tagged.push(self.instances(&subnet, 2, true));
            self.untagged
                .push(self.instances(&subnet, 1, false).remove(0));
            self.subnets.push(subnet);
        }
        self.untagged_subnet_a = self.subnet(ZONES[0], "10.0.11.0/24", false);
        self.stopped_before = self.instances(&self.subnets[0], 1, true).remove(0);
        let id = self.stopped_before.clone();
        self.rt.block_on(async {
            self.ec2
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .expect("stop");
        });
        self.default_acl = self.acl_of(&self.subnets[0]);
    }

    fn subnet(&self, zone: &str, cidr: &str, tagged: bool) -> String {
        self.rt.block_on(async {
            let mut req = self
                .ec2
                .create_subnet()
                .vpc_id(&self.vpc)
                .cidr_block(cidr)
                .availability_zone(zone);
            if tagged {
                req = req.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Subnet)
                        .tags(tag("app", "checkout"))
                        .build(),
                );
            }
            let out = req.send().await.expect("create subnet");
            out.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string()
        })
    }

    fn instances(&self, subnet: &str, n: i32, tagged: bool) -> Vec<String> {
        self.rt.block_on(async {
            let mut req = self
                .ec2
                .run_instances()
                .image_id("ami-12c6146b")
                .min_count(n)
                .max_count(n)
                .subnet_id(subnet);
            if tagged {
                req = req.tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Instance)
                        .tags(tag("app", "checkout"))
                        .build(),
                );
            }
            let out = req.send().await.expect("run instances");
            out.instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string))
                .collect()
        })
    }

    fn all_instances(&self) -> Vec<String> {
        let mut all: Vec<String> = self.tagged.iter().flatten().cloned().collect();
        all.extend(self.untagged.iter().cloned());
        all.push(self.stopped_before.clone());
        all
    }

    fn states(&self) -> BTreeMap<String, String> {
        self.rt.block_on(async {
            let out = self
                .ec2
                .describe_instances()
                .set_instance_ids(Some(self.all_instances()))
                .send()
                .await
                .expect("describe instances");
            out.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| {
                    let state = i.state().and_then(|s| s.name()).map_or("?", |n| n.as_str());
                    (
                        i.instance_id().unwrap_or("?").to_string(),
                        state.to_string(),
                    )
                })
                .collect()
        })
    }

    fn acl_of(&self, subnet: &str) -> String {
        self.rt.block_on(async {
            let out = self
                .ec2
                .describe_network_acls()
                .filters(filter("association.subnet-id", subnet))
                .send()
                .await
                .expect("describe acls");
            out.network_acls()
                .iter()
                .find(|a| {
                    a.associations()
                        .iter()
                        .any(|s| s.subnet_id() == Some(subnet))
                })
                .and_then(|a| a.network_acl_id())
                .expect("the subnet's acl")
                .to_string()
        })
    }

    /// Deny-all ACLs shakeout made (by tag) and their tags.
    fn deny_acls(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.rt.block_on(async {
            let out = self
                .ec2
                .describe_network_acls()
                .filters(filter("tag-key", "shakeout:run-id"))
                .send()
                .await
                .expect("describe acls");
            out.network_acls()
                .iter()
                .map(|a| {
                    let tags = a
                        .tags()
                        .iter()
                        .map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()))
                        .collect();
                    (a.network_acl_id().unwrap_or("?").to_string(), tags)
                })
                .collect()
        })
    }

    fn state_of(&self, states: &BTreeMap<String, String>, id: &str) -> String {
        states.get(id).cloned().unwrap_or_else(|| "missing".into())
    }

    /// Zone a's tagged instances stopped and its tagged subnet on a deny-all ACL;
    /// everything else as it was.
    fn is_zone_a_down(&self) -> bool {
        let states = self.states();
        self.tagged[0]
            .iter()
            .all(|i| self.state_of(&states, i) == "stopped")
            && self
                .deny_acls()
                .contains_key(&self.acl_of(&self.subnets[0]))
    }

    fn assert_only_zone_a_down(&self) {
        let states = self.states();
        for i in &self.tagged[0] {
            assert_eq!(self.state_of(&states, i), "stopped", "{i}: {states:?}");
        }
        let deny = self.deny_acls();
        assert_eq!(deny.len(), 1, "one deny-all ACL for the one VPC: {deny:?}");
        let (acl, tags) = deny.iter().next().expect("one");
        assert_eq!(&self.acl_of(&self.subnets[0]), acl);
        assert_eq!(
            tags.get("shakeout:fault").map(String::as_str),
            Some("lose-a")
        );
        assert!(tags.contains_key("shakeout:expires"), "{tags:?}");
        assert_eq!(
            tags.get(&format!("shakeout:restore:{}", self.subnets[0])),
            Some(&self.default_acl)
        );
        self.assert_untouched_outside_zone_a(&states);
    }

    /// Untagged instances, other zones, the untagged subnet and the instance stopped
    /// before the run: never touched.
    fn assert_untouched_outside_zone_a(&self, states: &BTreeMap<String, String>) {
        for i in self.tagged[1..].iter().flatten().chain(&self.untagged) {
            assert_eq!(self.state_of(states, i), "running", "{i}: {states:?}");
        }
        assert_eq!(self.state_of(states, &self.stopped_before), "stopped");
        for s in self.subnets[1..].iter().chain([&self.untagged_subnet_a]) {
            assert_eq!(self.acl_of(s), self.default_acl, "{s}");
        }
    }

    fn assert_as_before(&self) {
        let states = self.states();
        for i in &self.tagged[0] {
            assert_eq!(self.state_of(&states, i), "running", "{i}: {states:?}");
        }
        assert_eq!(self.acl_of(&self.subnets[0]), self.default_acl);
        assert!(self.deny_acls().is_empty(), "{:?}", self.deny_acls());
        self.assert_untouched_outside_zone_a(&states);
    }

    fn spec(&self, dir: &Path, fault: (u64, u64), duration: u64, cap: &str) -> String {
        let port = self._probe_target.local_addr().expect("addr").port();
        let text = format!(
            r#"name: ec2-e2e
duration: {duration}s
probes:
  - name: service
    tcp: {{address: "127.0.0.1:{port}", interval: 200ms}}
faults:
  - name: lose-a
    at: {}s
    duration: {}s
    az_loss:
      zone: us-east-1a
      ec2:
        region: us-east-1
        filters: {{"tag:app": checkout}}
        actions: [stop_instances, isolate_subnets]
        {cap}
"#,
            fault.0, fault.1
        );
        write_spec(dir, "ec2.yaml", &text).display().to_string()
    }

    fn shakeout(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(args);
        for (k, v) in self.moto.env() {
            cmd.env(k, v);
        }
        cmd.output().expect("run shakeout")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        let env = self.moto.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        spawn(args, &env)
    }

    fn wait_until_zone_a_down(&self, run: &mut Child) {
        wait_for("zone a to be down", DOWN_TIMEOUT, || {
            if let Ok(Some(status)) = run.try_wait() {
                panic!("the run ended ({status}) before the zone was down");
            }
            self.is_zone_a_down()
        });
    }

    /// Neither the secret key nor the endpoint is in anything the run printed or wrote.
    fn assert_no_credentials(&self, printed: &str, dir: &Path) {
        let endpoint = format!("127.0.0.1:{}", self.moto.port);
        assert!(
            !printed.contains("moto-test-secret") && !printed.contains(&endpoint),
            "{printed}"
        );
        for entry in std::fs::read_dir(dir).expect("out dir").flatten() {
            let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(
                !body.contains("moto-test-secret") && !body.contains(&endpoint),
                "{} holds a credential or the endpoint",
                entry.path().display()
            );
        }
    }
}

fn wait_exit(run: Child, limit: Duration) -> Output {
    let pid = run.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for shakeout"),
        Err(_) => {
            // SAFETY: kill(2) on the child this test spawned.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("shakeout did not exit within {limit:?}");
        }
    }
}

fn signal(run: &Child, sig: i32) {
    // SAFETY: kill(2) on the child this test spawned.
    assert_eq!(unsafe { libc::kill(run.id() as i32, sig) }, 0);
}

const CAP: &str = "max_instances: 2";

#[test]
fn the_zone_goes_down_during_the_fault_and_is_verified_back_after_the_run() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 4), 7, CAP);
    let mut run = w.spawn(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    w.wait_until_zone_a_down(&mut run);
    w.assert_only_zone_a_down();
    let done = wait_exit(run, Duration::from_secs(60));
    assert_eq!(code(&done), 0, "{}", text(&done));
    w.assert_as_before();
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).expect("journal");
    assert!(journal.contains("\"op\":\"reverted\""), "{journal}");
    assert!(
        journal.contains("verified: every instance it stopped is running"),
        "{journal}"
    );
    w.assert_no_credentials(&text(&done), &out);
}

#[test]
fn ctrl_c_during_the_fault_brings_the_zone_back() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 100), 120, CAP);
    let mut run = w.spawn(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    w.wait_until_zone_a_down(&mut run);
    signal(&run, libc::SIGINT);
    let done = wait_exit(run, Duration::from_secs(60));
    assert_eq!(code(&done), 1, "{}", text(&done));
    w.assert_as_before();
}

#[test]
fn after_sigkill_rollback_brings_the_zone_back_once() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 100), 120, CAP);
    let mut run = w.spawn(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    w.wait_until_zone_a_down(&mut run);
    signal(&run, libc::SIGKILL);
    let _ = wait_exit(run, Duration::from_secs(10));
    w.assert_only_zone_a_down();
    let dir_arg = out.to_str().unwrap();
    let rollback = w.shakeout(&["rollback", dir_arg]);
    assert_eq!(code(&rollback), 0, "{}", text(&rollback));
    assert!(
        text(&rollback).contains("reverted `lose-a`"),
        "{}",
        text(&rollback)
    );
    w.assert_as_before();
    let again = w.shakeout(&["rollback", dir_arg]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("nothing to revert"),
        "{}",
        text(&again)
    );
}

#[test]
fn the_cap_refuses_before_any_change() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 2), 4, "max_instances: 1");
    let done = w.shakeout(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    assert_eq!(code(&done), 3, "{}", text(&done));
    assert!(
        text(&done).contains(
            "refused: 2 running instances match in us-east-1a, more than max_instances 1"
        ),
        "{}",
        text(&done)
    );
    assert!(!out.join("journal.jsonl").exists());
    w.assert_as_before();
}

#[test]
fn without_allow_destructive_nothing_changes_and_the_exit_is_2() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 2), 4, CAP);
    let done = w.shakeout(&["run", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code(&done), 2, "{}", text(&done));
    assert!(
        text(&done).contains("add --allow-destructive"),
        "{}",
        text(&done)
    );
    w.assert_as_before();
}

#[test]
fn plan_preflight_lists_every_target_by_az_id_and_changes_nothing() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = w.spec(dir.path(), (1, 2), 4, CAP);
    let zone_id = w.rt.block_on(async {
        let out = w
            .ec2
            .describe_availability_zones()
            .zone_names(ZONES[0])
            .send()
            .await
            .expect("zones");
        out.availability_zones()[0]
            .zone_id()
            .expect("zone id")
            .to_string()
    });
    let text_spec = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("zone: us-east-1a", &format!("zone: {zone_id}"));
    std::fs::write(&spec, text_spec).unwrap();
    let out = w.shakeout(&["plan", "--preflight", &spec]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains(&format!("EC2 zone us-east-1a ({zone_id}) in us-east-1: 2 running instance(s) to stop, 1 subnet(s) to isolate")), "{t}");
    for i in &w.tagged[0] {
        assert!(t.contains(&format!("stop {i} (")), "{i} not listed:\n{t}");
    }
    assert!(
        t.contains(&format!(
            "isolate {} (10.0.1.0/24, {}, now on {})",
            w.subnets[0], w.vpc, w.default_acl
        )),
        "{t}"
    );
    assert!(
        t.contains("DryRun permitted: ec2:StopInstances, ec2:StartInstances"),
        "{t}"
    );
    for other in w.tagged[1..]
        .iter()
        .flatten()
        .chain(&w.untagged)
        .chain([&w.stopped_before])
    {
        assert!(!t.contains(other.as_str()), "{other} listed:\n{t}");
    }
    w.assert_as_before();
}

#[test]
fn a_revert_that_cannot_restore_the_zone_exits_4_with_the_command_to_fix_it() {
    let Some(w) = World::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = w.spec(dir.path(), (1, 3), 6, CAP);
    let mut run = w.spawn(&[
        "run",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--allow-destructive",
    ]);
    w.wait_until_zone_a_down(&mut run);
    let gone = w.tagged[0][0].clone();
    w.rt.block_on(async {
        w.ec2
            .terminate_instances()
            .instance_ids(&gone)
            .send()
            .await
            .expect("terminate");
    });
    let done = wait_exit(run, Duration::from_secs(60));
    assert_eq!(code(&done), 4, "{}", text(&done));
    let t = text(&done);
    assert!(
        t.contains(&format!("instances not running: {gone} (terminated)")),
        "{t}"
    );
    assert!(
        t.contains("aws ec2 start-instances --region us-east-1 --instance-ids"),
        "{t}"
    );
    // The rest of the zone is back all the same.
    assert_eq!(w.state_of(&w.states(), &w.tagged[0][1]), "running");
    assert_eq!(w.acl_of(&w.subnets[0]), w.default_acl);
}

#[test]
fn sweep_removes_an_expired_leftover_acl_and_keeps_a_live_one() {
    let Some(w) = World::start() else { return };
    let leftover = |expires: &str, subnet: Option<&str>| {
        w.rt.block_on(async {
            let mut tags = vec![
                tag("shakeout:run-id", "old-run"),
                tag("shakeout:fault", "lose-b"),
                tag("shakeout:expires", expires),
            ];
            if let Some(s) = subnet {
                tags.push(tag(&format!("shakeout:restore:{s}"), &w.default_acl));
            }
            let acl = w
                .ec2
                .create_network_acl()
                .vpc_id(&w.vpc)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::NetworkAcl)
                        .set_tags(Some(tags))
                        .build(),
                )
                .send()
                .await
                .expect("create acl");
            let acl = acl
                .network_acl()
                .and_then(|a| a.network_acl_id())
                .expect("id")
                .to_string();
            if let Some(s) = subnet {
                let now = w
                    .ec2
                    .describe_network_acls()
                    .filters(filter("association.subnet-id", s))
                    .send()
                    .await
                    .expect("acls");
                let assoc = now
                    .network_acls()
                    .iter()
                    .flat_map(|a| a.associations())
                    .find(|a| a.subnet_id() == Some(s))
                    .and_then(|a| a.network_acl_association_id())
                    .expect("assoc")
                    .to_string();
                w.ec2
                    .replace_network_acl_association()
                    .association_id(assoc)
                    .network_acl_id(&acl)
                    .send()
                    .await
                    .expect("replace");
            }
            acl
        })
    };
    let expired = leftover("2020-01-01T00:00:00Z", Some(&w.subnets[1]));
    let live = leftover("2999-01-01T00:00:00Z", None);
    assert_eq!(w.acl_of(&w.subnets[1]), expired);
    let out = w.shakeout(&["sweep", "ec2", "--region", "us-east-1"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("removed {expired} in {}", w.vpc)),
        "{t}"
    );
    assert!(
        t.contains(&format!("{} back on {}", w.subnets[1], w.default_acl)),
        "{t}"
    );
    assert!(t.contains(&format!("kept {live}")), "{t}");
    assert_eq!(w.acl_of(&w.subnets[1]), w.default_acl);
    let left: Vec<String> = w.deny_acls().into_keys().collect();
    assert_eq!(left, vec![live]);
}
