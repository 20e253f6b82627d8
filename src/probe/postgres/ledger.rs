//! The PostgreSQL read-back of the write ledger (the live half is
//! [`crate::probe::ledger`]).

use tokio_postgres::Client;

/// Read every id at or above `base_id` from `table` and turn them into seq ranges.
pub async fn read_back(
    client: &Client,
    table: &str,
    base_id: i64,
) -> Result<Vec<[u64; 2]>, String> {
    let sql = format!("SELECT id FROM {table} WHERE id >= $1 ORDER BY id");
    let rows = client
        .query(sql.as_str(), &[&base_id])
        .await
        .map_err(|e| super::conn::reason(&e))?;
    let seqs = rows.iter().filter_map(|r| {
        let id: i64 = r.try_get(0).ok()?;
        u64::try_from(id - base_id).ok()
    });
    Ok(crate::record::seq_ranges(seqs))
}
