//! The running TCP probe.

use super::compile::TcpProbePlan;
use tokio::net::TcpStream;

pub struct TcpProbe {
    address: String,
}

impl TcpProbe {
    pub fn new(plan: &TcpProbePlan) -> TcpProbe {
        TcpProbe {
            address: plan.address.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), crate::probe::failure::Failure> {
        match TcpStream::connect(&self.address).await {
            Ok(stream) => {
                // Close with RST-free shutdown; the connection was only a liveness test.
                drop(stream);
                Ok(())
            }
            Err(e) => Err(crate::probe::failure::Failure::from_io(&e)),
        }
    }
}
