//! The EC2 calls the layer makes, over aws-sdk-ec2 (feature `aws`). Credentials, region
//! defaults and the endpoint (`AWS_ENDPOINT_URL`) come from the standard AWS chain;
//! none of them is ever put in a message.

use super::compile::ZoneSelector;
use crate::fault::FaultError;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use std::collections::BTreeMap;
use std::time::Duration;

/// One EC2 call may take this long, retries included: a revert must not hang.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for one region.
pub(super) struct Ec2 {
    client: aws_sdk_ec2::Client,
}

/// A zone as EC2 knows it.
#[derive(Debug, Clone)]
pub(super) struct Zone {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone)]
pub(super) struct Instance {
    pub id: String,
    pub name: Option<String>,
    pub instance_type: String,
}

#[derive(Debug, Clone)]
pub(super) struct Subnet {
    pub id: String,
    pub vpc: String,
    pub cidr: String,
    pub name: Option<String>,
}

/// A subnet's network ACL association.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Association {
    pub id: String,
    pub acl: String,
}

/// A network ACL and the subnets on it.
#[derive(Debug, Clone)]
pub(super) struct Acl {
    pub id: String,
    pub vpc: String,
    pub tags: BTreeMap<String, String>,
    pub subnets: Vec<String>,
}

/// What a DryRun call said about a permission.
pub(super) enum DryRun {
    Permitted,
    Denied(String),
    /// The endpoint did not answer DryRunOperation (it may check the resource first).
    Unknown(String),
}

/// An SDK error in words: the service's code and message, or what went wrong on the way.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &SdkError<E>) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => "the EC2 API did not answer in time".into(),
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => {
            "could not reach the EC2 API (connection failed)".into()
        }
        other => aws_sdk_ec2::error::DisplayErrorContext(other).to_string(),
    }
}

fn call_failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    what: &str,
) -> impl Fn(SdkError<E>) -> FaultError + '_ {
    move |e| FaultError::Target(format!("EC2 {what} failed: {}", describe(&e)))
}

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

fn dry_run_outcome<T, E: ProvideErrorMetadata + std::error::Error + 'static>(
    r: Result<T, SdkError<E>>,
) -> (DryRun, Option<T>) {
    match r {
        Ok(out) => (
            DryRun::Unknown("the endpoint ignored DryRun and made the call".into()),
            Some(out),
        ),
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let outcome = if code == "DryRunOperation" {
                DryRun::Permitted
            } else if code.contains("Unauthorized") || code.contains("AccessDenied") {
                DryRun::Denied(describe(&e))
            } else {
                DryRun::Unknown(describe(&e))
            };
            (outcome, None)
        }
    }
}

impl Ec2 {
    /// A client for `region`, over rustls. Reads the standard chain; makes no call.
    pub async fn connect(region: &str) -> Ec2 {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .http_client(http)
            .timeout_config(timeouts)
            .load()
            .await;
        Ec2 {
            client: aws_sdk_ec2::Client::new(&conf),
        }
    }

    /// The zone by name or AZ id; an error lists the region's zones.
    pub async fn zone(&self, sel: &ZoneSelector, region: &str) -> Result<Zone, FaultError> {
        let out = self
            .client
            .describe_availability_zones()
            .send()
            .await
            .map_err(call_failed("DescribeAvailabilityZones"))?;
        let zones: Vec<Zone> = out
            .availability_zones()
            .iter()
            .filter_map(|z| {
                Some(Zone {
                    name: z.zone_name()?.to_string(),
                    id: z.zone_id().unwrap_or("").to_string(),
                })
            })
            .collect();
        let found = zones.iter().find(|z| match sel {
            ZoneSelector::Name(n) => &z.name == n,
            ZoneSelector::Id(i) => &z.id == i,
        });
        found.cloned().ok_or_else(|| {
            let known: Vec<String> = zones
                .iter()
                .map(|z| format!("{} ({})", z.name, z.id))
                .collect();
            FaultError::Target(format!(
                "region {region} has no zone {sel}; its zones: {}",
                known.join(", ")
            ))
        })
    }

    /// Running instances matching `filters` in the whole region, each with its zone.
    /// The zone is picked out by the caller rather than with the `availability-zone`
    /// filter: one call then gives both the zone's instances and the region's count
    /// that `max_percent` needs (and moto's server ignores that filter).
    pub async fn running_instances(
        &self,
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<(Instance, String)>, FaultError> {
        let mut req = self
            .client
            .describe_instances()
            .filters(filter("instance-state-name", &["running".into()]));
        for (k, v) in filters {
            req = req.filters(filter(k, v));
        }
        let reservations = req
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(call_failed("DescribeInstances"))?;
        let mut out: Vec<(Instance, String)> = reservations
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let zone = i.placement()?.availability_zone()?.to_string();
                let instance = Instance {
                    id: i.instance_id()?.to_string(),
                    name: tag_map(i.tags()).remove("Name"),
                    instance_type: i.instance_type().map_or("?", |t| t.as_str()).to_string(),
                };
                Some((instance, zone))
            })
            .collect();
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(out)
    }

    /// Each instance's state name (`running`, `stopped`, ...); a missing one is absent.
    pub async fn instance_states(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, String>, FaultError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let reservations = self
            .client
            .describe_instances()
            .filters(filter("instance-id", ids))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(call_failed("DescribeInstances"))?;
        Ok(reservations
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let state = i.state()?.name()?.as_str().to_string();
                Some((i.instance_id()?.to_string(), state))
            })
            .collect())
    }

    /// Subnets in `zone` matching `filters`.
    pub async fn subnets(
        &self,
        zone: &str,
        filters: &[(String, Vec<String>)],
    ) -> Result<Vec<Subnet>, FaultError> {
        let mut req = self
            .client
            .describe_subnets()
            .filters(filter("availability-zone", &[zone.to_string()]));
        for (k, v) in filters {
            req = req.filters(filter(k, v));
        }
        let subnets = req
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(call_failed("DescribeSubnets"))?;
        let mut out: Vec<Subnet> = subnets
            .iter()
            .filter_map(|s| {
                Some(Subnet {
                    id: s.subnet_id()?.to_string(),
                    vpc: s.vpc_id()?.to_string(),
                    cidr: s.cidr_block().unwrap_or("").to_string(),
                    name: tag_map(s.tags()).remove("Name"),
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Network ACLs matching the filters (`(name, values)`).
    pub async fn acls(&self, filters: &[(&str, Vec<String>)]) -> Result<Vec<Acl>, FaultError> {
        let mut req = self.client.describe_network_acls();
        for (k, v) in filters {
            req = req.filters(filter(k, v));
        }
        let acls = req
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(call_failed("DescribeNetworkAcls"))?;
        Ok(acls
            .iter()
            .filter_map(|a| {
                Some(Acl {
                    id: a.network_acl_id()?.to_string(),
                    vpc: a.vpc_id().unwrap_or("").to_string(),
                    tags: tag_map(a.tags()),
                    subnets: a
                        .associations()
                        .iter()
                        .filter_map(|s| s.subnet_id().map(str::to_string))
                        .collect(),
                })
            })
            .collect())
    }

    /// The VPC's default network ACL.
    pub async fn default_acl(&self, vpc: &str) -> Result<String, FaultError> {
        let acls = self
            .acls(&[
                ("vpc-id", vec![vpc.into()]),
                ("default", vec!["true".into()]),
            ])
            .await?;
        acls.into_iter()
            .next()
            .map(|a| a.id)
            .ok_or_else(|| FaultError::Target(format!("VPC {vpc} has no default network ACL")))
    }

    /// Each subnet's current network ACL association.
    pub async fn associations(
        &self,
        subnets: &[String],
    ) -> Result<BTreeMap<String, Association>, FaultError> {
        if subnets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let acls = self
            .client
            .describe_network_acls()
            .filters(filter("association.subnet-id", subnets))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(call_failed("DescribeNetworkAcls"))?;
        Ok(acls
            .iter()
            .flat_map(|a| a.associations())
            .filter_map(|s| {
                let subnet = s.subnet_id()?.to_string();
                subnets.contains(&subnet).then(|| {
                    let assoc = Association {
                        id: s.network_acl_association_id().unwrap_or("").to_string(),
                        acl: s.network_acl_id().unwrap_or("").to_string(),
                    };
                    (subnet, assoc)
                })
            })
            .collect())
    }

    /// A new network ACL in `vpc` with these tags. A new ACL holds only the
    /// default deny-everything rules, inbound and outbound.
    pub async fn create_acl(
        &self,
        vpc: &str,
        tags: &[(String, String)],
    ) -> Result<String, FaultError> {
        let out = self
            .client
            .create_network_acl()
            .vpc_id(vpc)
            .tag_specifications(tag_spec(tags))
            .send()
            .await
            .map_err(call_failed("CreateNetworkAcl"))?;
        out.network_acl()
            .and_then(|a| a.network_acl_id())
            .map(str::to_string)
            .ok_or_else(|| FaultError::Target("EC2 CreateNetworkAcl returned no ACL id".into()))
    }

    pub async fn replace_association(
        &self,
        association: &str,
        acl: &str,
    ) -> Result<(), FaultError> {
        self.client
            .replace_network_acl_association()
            .association_id(association)
            .network_acl_id(acl)
            .send()
            .await
            .map_err(call_failed("ReplaceNetworkAclAssociation"))?;
        Ok(())
    }

    pub async fn delete_acl(&self, acl: &str) -> Result<(), FaultError> {
        self.client
            .delete_network_acl()
            .network_acl_id(acl)
            .send()
            .await
            .map_err(call_failed("DeleteNetworkAcl"))?;
        Ok(())
    }

    pub async fn stop(&self, ids: &[String]) -> Result<(), FaultError> {
        self.client
            .stop_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(call_failed("StopInstances"))?;
        Ok(())
    }

    pub async fn start(&self, ids: &[String]) -> Result<(), FaultError> {
        self.client
            .start_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(call_failed("StartInstances"))?;
        Ok(())
    }

    pub async fn dry_run_stop(&self, ids: &[String]) -> DryRun {
        let r = self
            .client
            .stop_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .dry_run(true)
            .send()
            .await;
        dry_run_outcome(r).0
    }

    pub async fn dry_run_start(&self, ids: &[String]) -> DryRun {
        let r = self
            .client
            .start_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .dry_run(true)
            .send()
            .await;
        dry_run_outcome(r).0
    }

    /// DryRun of CreateNetworkAcl (with its tags, so ec2:CreateTags is checked too).
    /// An endpoint that ignores DryRun creates the ACL: it is deleted again at once.
    pub async fn dry_run_create_acl(&self, vpc: &str, tags: &[(String, String)]) -> DryRun {
        let r = self
            .client
            .create_network_acl()
            .vpc_id(vpc)
            .tag_specifications(tag_spec(tags))
            .dry_run(true)
            .send()
            .await;
        let (outcome, made) = dry_run_outcome(r);
        let made = made.and_then(|o| {
            o.network_acl()
                .and_then(|a| a.network_acl_id().map(str::to_string))
        });
        if let Some(acl) = made {
            return match self.delete_acl(&acl).await {
                Ok(()) => DryRun::Unknown(format!(
                    "the endpoint ignored DryRun and created {acl}, which was deleted again"
                )),
                Err(e) => DryRun::Denied(format!(
                    "the endpoint ignored DryRun and created {acl}, which could not be deleted: {e}"
                )),
            };
        }
        outcome
    }

    /// DryRun of swapping a subnet's association onto the ACL it already has: even an
    /// endpoint that ignores DryRun changes nothing that matters.
    pub async fn dry_run_replace(&self, assoc: &Association) -> DryRun {
        let r = self
            .client
            .replace_network_acl_association()
            .association_id(&assoc.id)
            .network_acl_id(&assoc.acl)
            .dry_run(true)
            .send()
            .await;
        dry_run_outcome(r).0
    }

    /// DryRun of DeleteNetworkAcl on an id no ACL has: permission is all it can show,
    /// and an endpoint that ignores DryRun finds nothing to delete.
    pub async fn dry_run_delete_acl(&self) -> DryRun {
        let r = self
            .client
            .delete_network_acl()
            .network_acl_id("acl-00000000000000000")
            .dry_run(true)
            .send()
            .await;
        dry_run_outcome(r).0
    }
}

fn tag_spec(tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::NetworkAcl)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}
