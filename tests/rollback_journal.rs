//! `shakeout rollback` on journals it cannot fully trust or read: it never signals a
//! pid it cannot vouch for, reverts everything it can read, says what it skipped, and
//! exits 4 when something may remain.

mod util;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use util::*;

const NOBODY: u32 = 65534;

/// A stopped `sleep`, owned by `uid` when given (needs root).
fn stopped_victim(uid: Option<u32>) -> Victim {
    let mut cmd = Command::new("sleep");
    cmd.arg("120");
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let victim = Victim(cmd.spawn().expect("spawn sleep"));
    signal(&victim.0, libc::SIGSTOP);
    wait_for(
        "the victim to stop",
        std::time::Duration::from_secs(5),
        || victim.is_stopped(),
    );
    victim
}

/// Field 22 of /proc/PID/stat, as the journal records it.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn resume_entry(id: u32, fault: &str, pid: i64, start_time: Option<u64>) -> String {
    serde_json::json!({
        "op": "applying", "id": id, "fault": fault,
        "undo": {"action": "resume", "pid": pid, "start_time": start_time},
        "at": "x"
    })
    .to_string()
}

fn write_journal(dir: &Path, bytes: &[u8]) {
    std::fs::write(dir.join("journal.jsonl"), bytes).unwrap();
}

#[test]
fn rollback_never_signals_pid_one_or_less_nor_a_process_without_start_time() {
    let victim = stopped_victim(None);
    let dir = tempfile::tempdir().unwrap();
    let journal = [
        // The entry: kill(-1, SIGCONT) would resume the victim (and everything else).
        resume_entry(0, "f", -1, None),
        resume_entry(1, "g", 0, Some(1)),
        resume_entry(2, "h", victim.pid().into(), None),
    ]
    .join("\n");
    write_journal(dir.path(), format!("{journal}\n").as_bytes());
    let out = shakeout(&["rollback", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    for needle in ["`f` was not reverted", "pid -1", "pid 0", "no start time"] {
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
    }
    assert!(
        victim.is_stopped(),
        "a distrusted entry signalled the victim"
    );
}

#[test]
fn rollback_reverts_around_a_corrupt_middle_line_and_a_torn_last_line() {
    let (a, b) = (stopped_victim(None), stopped_victim(None));
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = format!(
        "{}\n{{\"op\":\"applying\",garbage\n{}\n",
        resume_entry(0, "a", a.pid().into(), Some(start_time(a.pid()))),
        resume_entry(1, "b", b.pid().into(), Some(start_time(b.pid()))),
    )
    .into_bytes();
    let torn = resume_entry(2, "zoné", 4242, Some(1));
    bytes.extend_from_slice(&torn.as_bytes()[..torn.find('é').unwrap() + 1]);
    write_journal(dir.path(), &bytes);

    let out = shakeout(&["rollback", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(!a.is_stopped() && !b.is_stopped(), "{}", text(&out));
    assert!(
        text(&out).contains("journal line 2 is unreadable"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("journal line 4"), "{}", text(&out));
    assert!(text(&out).contains("cut short"), "{}", text(&out));
}

#[test]
fn rollback_of_a_read_only_journal_still_reverts() {
    // Root ignores file modes: then the rollback and its victim run as nobody.
    let as_user = (unsafe { libc::geteuid() } == 0).then_some(NOBODY);
    let victim = stopped_victim(as_user);
    let dir = tempfile::tempdir().unwrap();
    let entry = resume_entry(0, "a", victim.pid().into(), Some(start_time(victim.pid())));
    write_journal(dir.path(), format!("{entry}\n").as_bytes());
    let set_mode = |p: &Path, mode| {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap()
    };
    set_mode(&dir.path().join("journal.jsonl"), 0o444);
    set_mode(dir.path(), 0o555);

    let mut cmd = Command::new(bin());
    cmd.args(["rollback", dir.path().to_str().unwrap()]);
    if let Some(uid) = as_user {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    set_mode(dir.path(), 0o755);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("reverted `a`: resumed process"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("not recorded in the journal"),
        "{}",
        text(&out)
    );
    assert!(!victim.is_stopped());
}
