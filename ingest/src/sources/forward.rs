//! gRPC anywhere (README.md, "More than one node"): a contact of a tenant
//! another node decides for is forwarded to that node (the one the
//! membership topic names) and answered with its decision. With no owner to
//! reach — a failover, the owner just lost — it is decided here without
//! dedup (route, kind and deadlines as the rules give them, tagged
//! `no_dedup`), handed to the tenant's partition of the by-tenant topic,
//! and answered; the owner decides it with dedup when there is one, and
//! that decision, stored and published under the same case id, is the
//! update. A forwarded call is never forwarded again.
use crate::admit::tenants::Tenants;
use crate::sources::cluster::Cluster;
use crate::telemetry::metrics as m;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_client::IntakeClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

/// The header a forwarded call carries (the forwarding node's name).
pub const FORWARDED: &str = "x-hotline-forwarded";

/// How long a forwarded call may take before the contact is decided here.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The clients of the other nodes, by address.
pub struct Forwarder {
    cluster: Arc<Cluster>,
    clients: Mutex<HashMap<String, IntakeClient<Channel>>>,
    /// The [`FORWARDED`] header's value: this node's name, or `1` when the
    /// name is not ASCII (the header must be there whatever the name: it
    /// is what keeps a forwarded call from being forwarded again).
    node: MetadataValue<Ascii>,
}

impl Forwarder {
    pub fn new(cluster: Arc<Cluster>) -> Forwarder {
        let node = cluster
            .members
            .node
            .parse()
            .unwrap_or_else(|_| MetadataValue::from_static("1"));
        Forwarder {
            cluster,
            clients: Mutex::new(HashMap::new()),
            node,
        }
    }

    fn client(&self, addr: &str) -> Result<IntakeClient<Channel>, Status> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| Status::internal("forwarding clients poisoned"))?;
        if let Some(c) = clients.get(addr) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Status::internal(format!("owner address {addr:?}: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(TIMEOUT)
            .connect_lazy();
        let c = IntakeClient::new(channel);
        clients.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// The decision of a contact of tenant `t`, which this node does not
    /// decide for: the owner's, or (no owner to reach) this node's without
    /// dedup, once handed to the owner's partition. `auth`: the caller's
    /// authorization, passed on; `forwarded`: the call came from a node.
    pub async fn decide(
        &self,
        tenants: &Tenants,
        t: usize,
        contact: &pb::Contact,
        auth: Option<MetadataValue<Ascii>>,
        forwarded: bool,
    ) -> Result<pb::Decision, Status> {
        if !forwarded {
            if let Some(addr) = self.cluster.owner_addr(t) {
                let mut req = Request::new(contact.clone());
                if let Some(a) = auth.clone() {
                    req.metadata_mut().insert("authorization", a);
                }
                req.metadata_mut().insert(FORWARDED, self.node.clone());
                match self.client(&addr)?.submit(req).await {
                    Ok(d) => {
                        m::forwarded("owner");
                        return Ok(d.into_inner());
                    }
                    // The owner refused the contact itself: so does this node.
                    Err(s)
                        if !matches!(
                            s.code(),
                            Code::Unavailable
                                | Code::DeadlineExceeded
                                | Code::Unknown
                                | Code::Cancelled
                        ) =>
                    {
                        return Err(s)
                    }
                    Err(s) => {
                        tracing::warn!(code = ?s.code(), "cluster: the owner did not answer a forwarded contact; deciding it here without dedup");
                    }
                }
            }
        }
        let d = tenants
            .at(t)
            .pipeline
            .decide_without_dedup(contact, chrono::Utc::now())
            .map_err(|r| {
                m::reject(r.code);
                r.status()
            })?;
        self.cluster.handoff(contact, t).await.map_err(|e| {
            Status::unavailable(format!(
                "no owner for the tenant and Kafka did not take the contact: {e}"
            ))
        })?;
        m::forwarded("handed_off");
        Ok(d)
    }
}
