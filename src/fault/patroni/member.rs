//! A member's local processes: Patroni (the process listening on its REST API port)
//! and its postmaster (listening on its PostgreSQL port, confirmed by the
//! `postmaster.pid` of the data directory it runs in), each identified by pid and
//! start time as the process and postgres backends do.

use super::api::Member;
use crate::fault::postgres::node::{self, PgProc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// A member running on this machine, as `kill_node` found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalMember {
    pub name: String,
    /// Its REST API, `http://host:port`.
    pub api: String,
    pub patroni: PgProc,
    pub postmaster: PgProc,
    pub data_dir: PathBuf,
    /// Patroni's user: the restart runs as them when shakeout runs as root.
    pub uid: u32,
    pub gid: u32,
}

/// Find `m`'s Patroni and postmaster on this machine.
pub fn find(m: &Member) -> Result<LocalMember, String> {
    let api = m
        .api_base()
        .ok_or_else(|| format!("member `{}` publishes no REST API URL", m.name))?;
    let api_port = api
        .parse::<hyper::Uri>()
        .ok()
        .and_then(|u| u.port_u16())
        .ok_or_else(|| format!("member `{}`: cannot tell the port of {api}", m.name))?;
    let patroni = listener(api_port).ok_or_else(|| {
        format!(
            "member `{}`: no process on this machine listens on its REST API port {api_port}; kill_node acts on members that run here",
            m.name
        )
    })?;
    if !cmdline(patroni.pid).contains("patroni") {
        return Err(format!(
            "member `{}`: process {} on port {api_port} is not Patroni (its command line does not say patroni)",
            m.name, patroni.pid
        ));
    }
    let pg_port = m
        .port
        .ok_or_else(|| format!("member `{}` publishes no PostgreSQL port", m.name))?;
    let (postmaster, data_dir) = postmaster(&m.name, pg_port)?;
    let meta = std::fs::metadata(format!("/proc/{}", patroni.pid)).map_err(|e| {
        format!(
            "member `{}`: cannot read process {}: {e}",
            m.name, patroni.pid
        )
    })?;
    Ok(LocalMember {
        name: m.name.clone(),
        api,
        patroni,
        postmaster,
        data_dir,
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

/// The postmaster listening on `port`, confirmed by its data directory's pid file.
fn postmaster(name: &str, port: u16) -> Result<(PgProc, PathBuf), String> {
    let pm = listener(port).ok_or_else(|| {
        format!("member `{name}`: no process on this machine listens on its PostgreSQL port {port}")
    })?;
    let data_dir = std::fs::read_link(format!("/proc/{}/cwd", pm.pid)).map_err(|e| {
        format!(
            "member `{name}`: cannot find the data directory of process {}: {e}",
            pm.pid
        )
    })?;
    let from_file = node::postmaster(&data_dir).map_err(|e| format!("member `{name}`: {e}"))?;
    if from_file != pm {
        return Err(format!(
            "member `{name}`: process {} on port {port} is not the postmaster of {} (postmaster.pid names {})",
            pm.pid,
            data_dir.display(),
            from_file.pid
        ));
    }
    Ok((pm, data_dir))
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The process holding the listening TCP socket on `port` (IPv4 or IPv6); when the
/// socket is shared with children, the one whose parent does not hold it.
fn listener(port: u16) -> Option<PgProc> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    let holders: Vec<i32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| holds_socket(*pid, &inodes))
        .collect();
    let first = holders
        .iter()
        .find(|pid| !holders.contains(&parent(**pid).unwrap_or(0)))
        .or(holders.first())?;
    node::find(*first)
}

fn listening_inodes(port: u16) -> HashSet<u64> {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    let local_port = cols.get(1)?.rsplit_once(':')?.1;
                    let ours = u16::from_str_radix(local_port, 16).ok()? == port
                        && *cols.get(3)? == LISTEN;
                    ours.then(|| cols.get(9)?.parse::<u64>().ok()).flatten()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn holds_socket(pid: i32, inodes: &HashSet<u64>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?;
            t.parse::<u64>().ok()
        })
        .any(|inode| inodes.contains(&inode))
}

fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_of_a_port_is_the_process_holding_its_socket() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        let found = listener(port).map(|p| p.pid);
        assert_eq!(found, Some(std::process::id() as i32));
        drop(socket);
        assert_eq!(listener(port), None, "nobody listens once it is closed");
    }
}
