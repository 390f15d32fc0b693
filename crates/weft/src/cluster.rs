//! Several `weft serve --kafka` servers on one cluster: this server joins the leader election
//! (`weft_kafka::leader`), relays the platform's ordered writes to the leader
//! (`weft_server::forward`), and runs the persistent queries' tasks of the election's task slots
//! it holds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use weft_kafka::leader::{ElectionOptions, LeaderElection};
use weft_kafka::KafkaLog;
use weft_server::forward::Leadership;
use weft_server::{Server, ServerConfig};

/// How long a starting server waits for the election to settle before it serves anyway.
const SETTLE: Duration = Duration::from_secs(30);

/// How long the announced leader is taken as read (reading it is a fetch from the cluster).
const LEADER_TTL: Duration = Duration::from_secs(1);

/// This server's place in the election, as the HTTP layer asks about it.
pub struct ElectedLeadership {
    election: LeaderElection,
    identity: String,
    /// The announced leader and when it was read.
    announced: Mutex<Option<(Instant, Option<String>)>>,
}

impl Leadership for ElectedLeadership {
    fn is_leader(&self) -> bool {
        self.election.is_leader()
    }

    fn leader(&self) -> Option<String> {
        let mut announced = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((read_at, leader)) = announced.as_ref() {
            if read_at.elapsed() < LEADER_TTL {
                return leader.clone();
            }
        }
        let leader = match self.election.leader() {
            Ok(leader) => leader,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read which server leads");
                None
            }
        };
        *announced = Some((Instant::now(), leader.clone()));
        leader
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }
}

/// The URL other servers reach this one at: `advertise`, else the bound address (a wildcard
/// address is no use to others: loopback then, for servers on one machine).
pub fn identity(advertise: Option<&str>, scheme: &str, bound: SocketAddr) -> String {
    match advertise {
        Some(url) => url.trim_end_matches('/').to_string(),
        None if bound.ip().is_unspecified() => format!("{scheme}://127.0.0.1:{}", bound.port()),
        None => format!("{scheme}://{bound}"),
    }
}

/// Joins the election of the mesh on `log`'s cluster.
pub async fn join(log: Arc<KafkaLog>, identity: String) -> Result<ElectedLeadership> {
    let options = ElectionOptions::new(identity.clone());
    let election = tokio::task::spawn_blocking(move || LeaderElection::join(log, options))
        .await
        .context("joining the leader election")?
        .context("joining the leader election of the servers on this cluster")?;
    let leadership = ElectedLeadership { election, identity, announced: Mutex::new(None) };
    // Serve once the group has answered, so the first writes find a leader rather than a 503: this
    // server leads, or it is in the group and another has announced itself.
    let deadline = Instant::now() + SETTLE;
    loop {
        let settled = leadership.election.is_leader()
            || (leadership.election.has_joined()
                && leadership.election.leader().ok().flatten().is_some_and(|leader| leader != leadership.identity));
        if settled {
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!("no leader among the servers yet; ordered writes answer 503 until one is elected");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(leadership)
}

/// A server on `log`'s cluster as one of several: bound with the one-server work (persistent queries,
/// raw input validation) waiting for the election, which it then joins, relaying ordered writes to
/// whoever leads and running that work while it leads itself. `weft serve --kafka` and
/// `weft demo --kafka` both start this way, so any number of either can share a cluster.
pub async fn bind(config: &ServerConfig, log: Arc<KafkaLog>, advertise: Option<&str>) -> Result<Server> {
    let mut server = Server::bind_shared(config, log.clone()).await?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let leadership = Arc::new(join(log, identity(advertise, scheme, server.local_addr()?)).await?);
    server.forward_ordered_writes(leadership.clone());
    let leader = leadership.clone();
    server.mesh().gate_background_work(Arc::new(move || Leadership::is_leader(leader.as_ref())));
    // The queries' tasks spread over the servers by the election's task slots.
    server.mesh().gate_query_tasks(Arc::new(move |task, tasks| leadership.election.runs_task(task, tasks)));
    Ok(server)
}
