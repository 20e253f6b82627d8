//! Short experiments for suites and repeats, whose later runs start seconds after
//! their spec was written.

use std::hash::{BuildHasher, Hasher};

/// A free loopback port below Linux's ephemeral range (32768 and up), so no socket
/// that another test binds to port 0 can take it in the seconds before a suite's later
/// experiment listens on it.
pub fn reserved_port() -> u16 {
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A one-zone, one-replica demo that loses its only zone from 500 ms for 300 ms of a
/// 2 s run while `checkout` samples every 25 ms: about 85% available, so
/// `availability: 50%` passes and `100%` fails, even on a loaded machine.
pub fn one_zone_loss(name: &str, sla: &str) -> String {
    let port = reserved_port();
    format!(
        r#"name: {name}
duration: 2s
target:
  demo:
    listen: 127.0.0.1:{port}
    zones: [a]
    replicas_per_zone: 1
sla:
{sla}probes:
  - name: checkout
    http:
      url: http://127.0.0.1:{port}/checkout
      interval: 25ms
      timeout: 500ms
faults:
  - name: lose-zone-a
    at: 500ms
    duration: 300ms
    az_loss:
      zone: a
"#
    )
}
