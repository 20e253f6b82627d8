//! The `ec2:` layer of `az_loss` in any build: it validates, plans, is refused without
//! `--allow-destructive`, and (without the `aws` feature) says how to build it in.

mod util;
use util::*;

const HEAD: &str = "name: ec2-spec
duration: 5s
probes:
  - name: p
    tcp: {address: \"127.0.0.1:9\", interval: 1s}
faults:
  - name: lose-a
    at: 1s
    duration: 3s
    az_loss:
";

fn spec(dir: &std::path::Path, az_loss: &str) -> String {
    write_spec(dir, "ec2.yaml", &format!("{HEAD}{az_loss}"))
        .display()
        .to_string()
}

#[test]
fn every_semantic_error_of_an_ec2_layer_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(
        dir.path(),
        r#"      zone: eu-west-1a
      ec2:
        region: us-east-1
        filters: {"instance-type": t3.micro, "tag:app": []}
        actions: [isolate_subnets]
        max_instances: 3
        max_subnets: 0
        max_percent: 150
"#,
    );
    let out = shakeout(&["validate", &f]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let t = text(&out);
    for want in [
        format!("{f}:11:13: faults[0].az_loss.zone: `eu-west-1a` is neither a zone of region `us-east-1` (such as us-east-1a) nor an AZ id (such as use1-az1)"),
        format!("{f}:14:36: faults[0].az_loss.ec2.filters.instance-type: `instance-type` is not a filter both instances and subnets accept"),
        format!("{f}:14:57: faults[0].az_loss.ec2.filters.tag:app: give one or more non-empty values"),
        format!("{f}:16:24: faults[0].az_loss.ec2.max_instances: the action it caps is not in `actions`"),
        format!("{f}:17:22: faults[0].az_loss.ec2.max_subnets: must be at least 1"),
        format!("{f}:18:22: faults[0].az_loss.ec2.max_percent: must be above 0 and at most 100"),
    ] {
        assert!(t.contains(&want), "missing {want}\n{t}");
    }
}

#[test]
fn stop_instances_needs_a_cap_and_actions_are_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(
        dir.path(),
        "      zone: us-east-1a\n      ec2:\n        region: us-east-1\n        actions: [stop_instances]\n",
    );
    let out = shakeout(&["validate", &f]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out)
            .contains("stop_instances needs a blast-radius cap: `max_instances` or `max_percent`"),
        "{}",
        text(&out)
    );
    let f = spec(
        dir.path(),
        "      zone: us-east-1a\n      ec2:\n        region: us-east-1\n        actions: [isolate_subnets, isolate_subnets]\n",
    );
    let out = shakeout(&["validate", &f]);
    assert!(
        text(&out).contains(&format!(
            "{f}:14:18: faults[0].az_loss.ec2.actions: each action may be named once"
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn a_misspelled_ec2_field_is_reported_with_the_nearest_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(
        dir.path(),
        "      zone: us-east-1a\n      ec2:\n        region: us-east-1\n        actions: [isolate_subnets]\n        max_subnet: 2\n",
    );
    let out = shakeout(&["validate", &f]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).contains(&format!(
            "{f}:15:9: faults[0].az_loss.ec2.max_subnet: unknown field `max_subnet`, did you mean `max_subnets`?"
        )),
        "{}",
        text(&out)
    );
}

const VALID: &str = r#"      zone: use1-az6
      ec2:
        region: us-east-1
        filters: {"tag:app": checkout}
        actions: [stop_instances, isolate_subnets]
        max_instances: 5
"#;

#[test]
fn plan_describes_the_ec2_layer_and_where_the_targets_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path(), VALID);
    let out = shakeout(&["plan", &f]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains(
        "inject `lose-a` [az_loss]: lose EC2 zone use1-az6 (AZ id) in us-east-1 (matching tag:app=checkout): stop its running instances (at most 5), swap a deny-all network ACL onto its subnets; revert restores exactly what was changed; `shakeout plan --preflight` lists every instance and subnet"
    ), "{}", text(&out));
}

#[test]
fn run_without_allow_destructive_prints_the_plan_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path(), VALID);
    let out_dir = dir.path().join("out");
    let out = shakeout(&["run", &f, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("lose EC2 zone use1-az6"), "{t}");
    assert!(t.contains("refusing to run: fault `lose-a` stops EC2 instances and cuts EC2 subnets off the network in zone use1-az6 (AZ id) of us-east-1; nothing was changed"), "{t}");
    assert!(!out_dir.join("journal.jsonl").exists());
}

/// Without the feature, `run --allow-destructive` stops before t=0 with one sentence.
#[cfg(not(feature = "aws"))]
#[test]
fn run_in_a_build_without_aws_says_how_to_build_it_in() {
    let dir = tempfile::tempdir().unwrap();
    let f = spec(dir.path(), VALID);
    let out_dir = dir.path().join("out");
    let out = shakeout(&[
        "run",
        &f,
        "--out",
        out_dir.to_str().unwrap(),
        "--allow-destructive",
    ]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("this shakeout was built without AWS support: rebuild it with `cargo build --release --features aws` to act on EC2"), "{}", text(&out));
    assert!(!out_dir.join("journal.jsonl").exists());
    let sweep = shakeout(&["sweep", "ec2", "--region", "us-east-1"]);
    assert_eq!(code(&sweep), 3);
    assert!(
        text(&sweep).contains("built without AWS support"),
        "{}",
        text(&sweep)
    );
}

/// A journal an `aws` build left is still understood: rollback says what to do by hand.
#[cfg(not(feature = "aws"))]
#[test]
fn rollback_of_an_ec2_journal_without_aws_gives_the_aws_cli_commands() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"op":"applying","id":0,"fault":"lose-a","undo":{"action":"ec2_zone_restore","region":"us-east-1","zone":"us-east-1a","run_id":"r1","fault":"lose-a","instances":["i-1","i-2"],"subnets":[{"subnet":"subnet-1","vpc":"vpc-1","acl":"acl-1"}]},"at":"2026-01-01T00:00:00.000Z"}"#;
    std::fs::write(dir.path().join("journal.jsonl"), format!("{line}\n")).unwrap();
    let out = shakeout(&["rollback", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("aws ec2 start-instances --region us-east-1 --instance-ids i-1 i-2"),
        "{t}"
    );
    assert!(
        t.contains(
            "aws ec2 replace-network-acl-association --region us-east-1 --network-acl-id acl-1"
        ),
        "{t}"
    );
    assert!(t.contains("Name=tag:shakeout:run-id,Values=r1"), "{t}");
}
