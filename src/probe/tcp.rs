//! TCP probe: a sample succeeds when a connection is established.

use tokio::net::TcpStream;

pub struct TcpProbe {
    address: String,
}

impl TcpProbe {
    pub fn new(address: String) -> TcpProbe {
        TcpProbe { address }
    }

    pub async fn check(&self) -> Result<(), String> {
        match TcpStream::connect(&self.address).await {
            Ok(stream) => {
                // Close with RST-free shutdown; the connection was only a liveness test.
                drop(stream);
                Ok(())
            }
            Err(e) => Err(super::io_reason(&e)),
        }
    }
}
