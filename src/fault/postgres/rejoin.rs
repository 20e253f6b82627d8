//! Turn a node back into a standby of `source`: stop it if it runs as a primary, then
//! pg_rewind (where wal_log_hints or data checksums allow it) or a fresh pg_basebackup,
//! keeping the node's own configuration files, then start it and wait until it is in
//! recovery.

use super::node::{self, run_tool, PgNode};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOOL_TIMEOUT: Duration = Duration::from_secs(300);
/// Files the tools copy from the source that must stay the node's own (its port...).
const OWN_CONFIG: &[&str] = &["postgresql.conf", "pg_hba.conf", "pg_ident.conf"];

pub async fn rejoin(n: &PgNode, source: &PgNode, rewind: bool) -> Result<String, String> {
    if node::postmaster(&n.data_dir).is_ok() {
        if node::in_recovery(&n.conninfo).await? {
            return Ok(format!(
                "nothing to do: {} is a standby",
                n.data_dir.display()
            ));
        }
        stop(n).await?;
    }
    let own = save_config(&n.data_dir);
    let how = match rewind {
        true => match pg_rewind(n, source).await {
            Ok(()) => "pg_rewind".to_string(),
            Err(e) => {
                tracing::warn!("{e}; falling back to pg_basebackup");
                pg_basebackup(n, source).await?
            }
        },
        false => pg_basebackup(n, source).await?,
    };
    restore_config(&n.data_dir, &own);
    start(n).await?;
    wait_role(n, true, Duration::from_secs(60)).await?;
    Ok(format!(
        "rejoined {} as a standby of {} ({how})",
        n.data_dir.display(),
        source.data_dir.display()
    ))
}

pub async fn start(n: &PgNode) -> Result<(), String> {
    let log = n.data_dir.join("shakeout-pg.log");
    let mut args = vec![
        "start".into(),
        "-w".into(),
        "-t".into(),
        "120".into(),
        "-D".into(),
        n.data_dir.display().to_string(),
        "-l".into(),
        log.display().to_string(),
    ];
    if !n.start_opts.is_empty() {
        args.extend(["-o".into(), n.start_opts.clone()]);
    }
    run_tool(n, "pg_ctl", &args, TOOL_TIMEOUT).await
}

async fn stop(n: &PgNode) -> Result<(), String> {
    let dir = n.data_dir.display().to_string();
    let args: Vec<String> = ["stop", "-w", "-m", "fast", "-D", &dir]
        .iter()
        .map(|s| s.to_string())
        .collect();
    run_tool(n, "pg_ctl", &args, TOOL_TIMEOUT).await
}

async fn pg_rewind(n: &PgNode, source: &PgNode) -> Result<(), String> {
    let args = vec![
        "-D".into(),
        n.data_dir.display().to_string(),
        format!("--source-server={}", source.conninfo),
        "-R".into(),
    ];
    run_tool(n, "pg_rewind", &args, TOOL_TIMEOUT).await
}

/// Move the old data aside (kept, never deleted) and copy the source afresh.
async fn pg_basebackup(n: &PgNode, source: &PgNode) -> Result<String, String> {
    let aside = aside_path(&n.data_dir);
    std::fs::rename(&n.data_dir, &aside)
        .map_err(|e| format!("cannot move {} aside: {e}", n.data_dir.display()))?;
    make_owned_dir(&n.data_dir, n.uid, n.gid)?;
    let args = vec![
        "-D".into(),
        n.data_dir.display().to_string(),
        "-d".into(),
        source.conninfo.clone(),
        "-R".into(),
        "-X".into(),
        "stream".into(),
    ];
    run_tool(n, "pg_basebackup", &args, TOOL_TIMEOUT).await?;
    for f in OWN_CONFIG {
        // Config files came from the source; the old node's own are in `aside`.
        let _ = std::fs::copy(aside.join(f), n.data_dir.join(f));
    }
    Ok(format!(
        "pg_basebackup; the old data is kept in {}",
        aside.display()
    ))
}

fn aside_path(dir: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".before-rejoin-{stamp}"));
    dir.with_file_name(name)
}

fn make_owned_dir(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .map_err(|e| format!("cannot chown {}: {e}", dir.display()))
}

fn save_config(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    OWN_CONFIG
        .iter()
        .filter_map(|f| Some((*f, std::fs::read(dir.join(f)).ok()?)))
        .collect()
}

fn restore_config(dir: &Path, own: &[(&'static str, Vec<u8>)]) {
    for (f, bytes) in own {
        if let Err(e) = std::fs::write(dir.join(f), bytes) {
            tracing::warn!("cannot restore {f} in {}: {e}", dir.display());
        }
    }
}

/// Wait until `n` answers `pg_is_in_recovery() = standby`.
pub async fn wait_role(n: &PgNode, standby: bool, within: Duration) -> Result<(), String> {
    let until = Instant::now() + within;
    loop {
        let now = node::in_recovery(&n.conninfo).await;
        match now {
            Ok(r) if r == standby => return Ok(()),
            _ if Instant::now() >= until => {
                return Err(format!(
                    "{} did not become a {} within {within:?} (last: {now:?})",
                    n.data_dir.display(),
                    if standby { "standby" } else { "primary" }
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
