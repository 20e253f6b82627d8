use super::*;
use crate::fault::process::{ProcessRef, ProcessUndo};

fn applying(id: u32, fault: &str, pid: i32, start_time: Option<u64>) -> String {
    let entry = Entry::Applying {
        id,
        fault: fault.into(),
        undo: Undo::Process(ProcessUndo::Resume(ProcessRef { pid, start_time })),
        at: "x".into(),
    };
    serde_json::to_string(&entry).unwrap()
}

#[test]
fn a_corrupt_middle_line_spoils_only_itself() {
    let text = format!(
        "{}\nnot json at all\n{}\n",
        applying(0, "a", 4242, Some(1)),
        applying(1, "b", 4343, Some(2))
    );
    let c = parse(text.as_bytes());
    let names: Vec<&str> = c.pending.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(c.bad_lines.len(), 1);
    assert_eq!(c.bad_lines[0].line, 2);
    assert!(!c.bad_lines[0].torn);
}

#[test]
fn a_last_line_cut_inside_a_utf8_character_is_torn_not_fatal() {
    let whole = applying(1, "zoné", 4343, Some(2));
    let cut = whole.find('é').unwrap() + 1; // inside the two bytes of é
    let mut bytes = format!("{}\n", applying(0, "a", 4242, Some(1))).into_bytes();
    bytes.extend_from_slice(&whole.as_bytes()[..cut]);
    let c = parse(&bytes);
    assert_eq!(c.pending.len(), 1);
    assert_eq!(c.bad_lines.len(), 1);
    assert!(c.bad_lines[0].torn, "{:?}", c.bad_lines);
}

#[test]
fn a_reverted_entry_closes_its_applying_entry() {
    let reverted = serde_json::to_string(&Entry::Reverted {
        id: 0,
        fault: "a".into(),
        note: "ok".into(),
        at: "x".into(),
    })
    .unwrap();
    let text = format!("{}\n{reverted}\n", applying(0, "a", 4242, Some(1)));
    assert!(parse(text.as_bytes()).pending.is_empty());
}

#[test]
fn undos_naming_pid_one_or_less_or_no_start_time_are_distrusted() {
    for pid in [-1, 0, 1] {
        let why = distrust(&Undo::Process(ProcessUndo::Resume(ProcessRef {
            pid,
            start_time: Some(5),
        })));
        assert!(why.is_some_and(|w| w.contains(&format!("pid {pid}"))));
    }
    let why = distrust(&Undo::Process(ProcessUndo::Resume(ProcessRef {
        pid: 4242,
        start_time: None,
    })));
    assert!(why.is_some_and(|w| w.contains("no start time")));
    assert_eq!(
        distrust(&Undo::Process(ProcessUndo::Resume(ProcessRef {
            pid: 4242,
            start_time: Some(5)
        }))),
        None
    );
}
