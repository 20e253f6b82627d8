//! Connecting with tokio-postgres (plain TCP: loopback and trusted networks; TLS is not
//! wired yet), and one-line reasons for its errors.

use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// Connect, and drive the connection on the runtime until the client is dropped or the
/// server goes away.
pub async fn connect(config: &Config, timeout: Duration) -> Result<Client, String> {
    let mut config = config.clone();
    config.connect_timeout(timeout);
    let attempt = tokio::time::timeout(timeout, config.connect(NoTls));
    let (client, connection) = match attempt.await {
        Err(_) => return Err(format!("connect timed out after {timeout:?}")),
        Ok(r) => r.map_err(|e| reason(&e))?,
    };
    tokio::spawn(async move {
        // The connection's end is seen by the client (`is_closed`, errors); nothing to log.
        let _ = connection.await;
    });
    Ok(client)
}

/// A short reason, stable enough to group by: the server's message for server errors,
/// the innermost I/O error otherwise.
pub fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity().to_lowercase(), db.message());
    }
    let root = crate::probe::root_reason(e);
    if root.is_empty() || root == "db error" {
        e.to_string()
    } else {
        root
    }
}

/// Whether a failed statement certainly did not commit. A server error in the classes
/// below came before any commit (syntax, constraint, read-only transaction, ...); a
/// connection problem, an operator intervention (shutdown, termination while waiting
/// for a synchronous standby) or an internal error may hide a commit that happened.
pub fn certainly_not_committed(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            let class = &code.code()[..2];
            !matches!(class, "08" | "57" | "58" | "XX" | "40")
        }
        None => false,
    }
}
