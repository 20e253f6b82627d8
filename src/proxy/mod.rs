//! Built-in TCP fault proxy with a Toxiproxy-compatible HTTP API.
