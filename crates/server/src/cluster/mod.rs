//! Which node runs a room, as this server acts on it: the I/O shell around
//! the sans-IO `tickroom-cluster` crate. Three modes, chosen by the config:
//!
//! - **single** (the default): every room is here; no external service.
//! - **static** (`--peers`): a fixed list; a room belongs to its rendezvous
//!   winner over the list ([`tickroom_cluster::StaticCluster`]), no claims.
//! - **redis** (`--redis`): live membership with leases and sticky room
//!   claims in Redis ([`membership`]).
//!
//! The rest of the server asks two questions: [`Cluster::route`] ("I want to
//! run or join room X: here, or where?", which claims the room in Redis mode
//! when it lands here) and [`Cluster::locate`] (the same, read-only, for
//! `GET`s). [`forward`] carries a room API request to the owner.

pub mod forward;
pub mod membership;

use std::{net::SocketAddr, sync::Arc};

use serde::Serialize;
use tickroom_cluster::{NodeId, StaticCluster, Target, WsUrl};

use crate::{Config, Error, Result, metrics::Metrics, room::registry::Registry};

use membership::Membership;

/// A node as this server reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its id.
    pub id: NodeId,
    /// The WebSocket base URL players use (`ws://host:port[/path]`).
    pub ws_url: WsUrl,
    /// The HTTP base URL nodes forward room API requests to.
    pub api_url: String,
}

/// Where a room runs, for a caller that would start or join it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Here (claimed, in Redis mode).
    Local,
    /// At another node.
    Remote(Peer),
    /// Unknown right now (Redis unreachable, or no live node).
    Unavailable,
}

/// Where a room runs, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Here.
    Local,
    /// At another node.
    Remote(Peer),
    /// Nowhere: no node claims it (Redis mode).
    Unowned,
    /// Unknown right now (Redis unreachable).
    Unavailable,
}

/// One member as `GET /cluster` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// Node id.
    pub id: String,
    /// WebSocket base URL.
    pub url: String,
    /// `up` or `draining`.
    pub state: &'static str,
    /// Rooms it reports owning (Redis mode; this node's own count otherwise).
    pub rooms: u64,
    /// The games it hosts (empty: a record of an older build, taken to host
    /// every game). A static peer is taken to host this node's games.
    pub games: Vec<String>,
}

#[derive(Debug)]
enum Mode {
    Single,
    Static(StaticCluster),
    Redis(Arc<Membership>),
}

/// This node's place in its cluster.
#[derive(Debug)]
pub struct Cluster {
    me: Peer,
    /// Whether `--public-url` was given (a single node then uses it for `ws_url`).
    explicit_url: bool,
    mode: Mode,
    /// The games this node hosts.
    games: Vec<String>,
}

/// The WebSocket form of an `http(s)://` (or `ws(s)://`) base URL, with no
/// trailing `/`, and its HTTP form.
pub fn url_pair(url: &str) -> Result<(WsUrl, String)> {
    let url = url.trim_end_matches('/');
    let (ws, http) = if let Some(rest) = url.strip_prefix("http://") {
        (format!("ws://{rest}"), url.to_owned())
    } else if let Some(rest) = url.strip_prefix("https://") {
        (format!("wss://{rest}"), url.to_owned())
    } else if let Some(rest) = url.strip_prefix("ws://") {
        (url.to_owned(), format!("http://{rest}"))
    } else if let Some(rest) = url.strip_prefix("wss://") {
        (url.to_owned(), format!("https://{rest}"))
    } else {
        return Err(Error::Config(format!(
            "{url:?}: a node URL starts with http://, https://, ws:// or wss://"
        )));
    };
    let ws = WsUrl::new(&ws).map_err(|e| Error::Config(format!("node URL: {e}")))?;
    Ok((ws, http))
}

/// This node's id as configured: `--node-id`, else the host name.
pub fn configured_node_id(config: &Config) -> String {
    config.node_id.clone().unwrap_or_else(host_node_id)
}

/// The host name, made into a node id (invalid bytes become `-`, at most 64).
fn host_node_id() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(tickroom_cluster::node::MAX_NODE_ID_BYTES)
        .collect();
    if id.is_empty() { "tickroom".into() } else { id }
}

impl Cluster {
    /// This node's cluster from `config`, bound at `bound`. Connects nothing
    /// yet (see [`Cluster::start`]).
    pub fn new(
        config: &Config,
        bound: SocketAddr,
        metrics: &Metrics,
        games: Vec<String>,
    ) -> Result<Cluster> {
        let id = configured_node_id(config);
        let id = NodeId::new(&id).map_err(|e| Error::Config(format!("--node-id: {e}")))?;
        let explicit_url = config.public_url.is_some();
        let public = config.public_url.clone().unwrap_or_else(|| {
            let scheme = if config.tls() { "https" } else { "http" };
            format!("{scheme}://{bound}")
        });
        let (ws_url, mut api_url) = url_pair(&public)?;
        if let Some(internal) = &config.internal_url {
            let (_, http) = url_pair(internal)?;
            if !http.starts_with("http://") {
                return Err(Error::Config(
                    "--internal-url must be a plain http:// URL the other nodes can reach".into(),
                ));
            }
            api_url = http;
        }
        let me = Peer {
            id: id.clone(),
            ws_url,
            api_url,
        };
        let mut me = me;
        let mode = if let Some(list) = &config.peers {
            let cluster = StaticCluster::parse(id, list)
                .map_err(|e| Error::Config(format!("--peers: {e}")))?;
            // Without --public-url, a static node is where the list says it is.
            if !explicit_url && let Some(own) = cluster.peers().iter().find(|p| p.id == me.id) {
                me = static_peer(own.id.clone(), own.url.clone());
            }
            Mode::Static(cluster)
        } else if let Some(url) = &config.redis {
            Mode::Redis(Arc::new(Membership::new(
                me.clone(),
                url.expose_str(),
                config,
                metrics.clone(),
                games.clone(),
            )?))
        } else {
            Mode::Single
        };
        if !matches!(mode, Mode::Single) && bound.ip().is_unspecified() && !explicit_url {
            tracing::warn!(
                url = me.ws_url.as_str(),
                "clustered on an unspecified address without --public-url: other nodes and \
                 players are sent to this URL"
            );
        }
        match &mode {
            Mode::Single => metrics.cluster.members.set(1.0),
            Mode::Static(c) => metrics.cluster.members.set(c.peers().len() as f64),
            Mode::Redis(_) => {}
        }
        Ok(Cluster {
            me,
            explicit_url,
            games,
            mode,
        })
    }

    /// Starts the membership loop (Redis mode), after a first round trip so
    /// the node is registered before it says it listens. `registry` holds
    /// the rooms whose claims it renews.
    pub async fn start(&self, registry: Arc<Registry>) {
        if let Mode::Redis(m) = &self.mode {
            m.start(registry).await;
        }
    }

    /// This node.
    pub fn me(&self) -> &Peer {
        &self.me
    }

    /// `single`, `static` or `redis`.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Single => "single",
            Mode::Static(_) => "static",
            Mode::Redis(_) => "redis",
        }
    }

    /// Whether other nodes exist (static or Redis mode).
    pub fn is_clustered(&self) -> bool {
        !matches!(self.mode, Mode::Single)
    }

    /// The WebSocket base URL for this node's `ws_url`s: its public URL when
    /// clustered or given, else `None` (the API then uses the request's Host).
    pub fn ws_base(&self) -> Option<&str> {
        (self.explicit_url || self.is_clustered()).then(|| self.me.ws_url.as_str())
    }

    /// Where room `room` runs, for a caller that will start or join it: in
    /// Redis mode a room placed here is claimed before this returns, and a
    /// new room is placed only on a node that hosts `game` (each node's
    /// record lists its games; `None`: any node). A static peer list is a
    /// homogeneous fleet: every peer is taken to host every game.
    pub async fn route(&self, room: &str, game: Option<&str>) -> Route {
        match &self.mode {
            Mode::Single => Route::Local,
            Mode::Static(c) => self.static_route(c, room),
            Mode::Redis(m) => m.route(room, game).await,
        }
    }

    /// Where room `room` runs, claiming nothing.
    pub async fn locate(&self, room: &str) -> Located {
        match &self.mode {
            Mode::Single => Located::Local,
            Mode::Static(c) => match self.static_route(c, room) {
                Route::Remote(p) => Located::Remote(p),
                _ => Located::Local,
            },
            Mode::Redis(m) => m.locate(room).await,
        }
    }

    fn static_route(&self, cluster: &StaticCluster, room: &str) -> Route {
        match cluster.place(room) {
            Target::Local => Route::Local,
            Target::Remote { node, url } => Route::Remote(static_peer(node, url)),
        }
    }

    /// The live members, sorted by id (`GET /cluster`); `own_rooms` is this
    /// node's room count.
    pub fn members(&self, own_rooms: usize, draining: bool) -> Vec<MemberView> {
        let own = MemberView {
            id: self.me.id.to_string(),
            url: self.me.ws_url.to_string(),
            state: if draining { "draining" } else { "up" },
            rooms: own_rooms as u64,
            games: self.games.clone(),
        };
        match &self.mode {
            Mode::Single => vec![own],
            Mode::Static(c) => c
                .peers()
                .iter()
                .map(|p| {
                    if p.id == self.me.id {
                        own.clone()
                    } else {
                        MemberView {
                            id: p.id.to_string(),
                            url: p.url.to_string(),
                            state: "up",
                            rooms: 0,
                            games: self.games.clone(),
                        }
                    }
                })
                .collect(),
            Mode::Redis(m) => m.members(),
        }
    }

    /// Whether another live member hosts `game`, which this node does not
    /// (Redis mode: each record lists its node's games). A request for such
    /// a game is routed there rather than refused as unknown.
    pub fn elsewhere_hosts(&self, game: &str) -> bool {
        match &self.mode {
            Mode::Redis(m) => m.others_host(game),
            Mode::Single | Mode::Static(_) => false,
        }
    }

    /// Every other live member, for fleet-wide listings.
    pub fn others(&self) -> Vec<Peer> {
        match &self.mode {
            Mode::Single => Vec::new(),
            Mode::Static(c) => c
                .peers()
                .iter()
                .filter(|p| p.id != self.me.id)
                .map(|p| static_peer(p.id.clone(), p.url.clone()))
                .collect(),
            Mode::Redis(m) => m.others(),
        }
    }

    /// Whether this node can hand its rooms to others on a drain (Redis
    /// mode: claims can move; a static list places a room on the same node
    /// whatever its state, so a static node does not hand off).
    pub fn hands_off(&self) -> bool {
        matches!(self.mode, Mode::Redis(_))
    }

    /// The Redis membership (Redis mode).
    pub fn membership(&self) -> Option<&Arc<Membership>> {
        match &self.mode {
            Mode::Redis(m) => Some(m),
            _ => None,
        }
    }

    /// Marks this node draining: no new rooms are placed on it.
    pub async fn set_draining(&self) {
        if let Mode::Redis(m) = &self.mode {
            m.set_draining().await;
        }
    }

    /// Leaves the cluster: releases every claim and the membership record.
    pub async fn leave(&self, registry: &Registry) {
        if let Mode::Redis(m) = &self.mode {
            m.leave(registry).await;
        }
    }
}

fn static_peer(id: NodeId, ws_url: WsUrl) -> Peer {
    let api_url = match url_pair(ws_url.as_str()) {
        Ok((_, http)) => http,
        Err(_) => String::new(),
    };
    Peer {
        id,
        ws_url,
        api_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_pairs() {
        let (ws, http) = url_pair("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (ws.as_str(), http.as_str()),
            ("ws://127.0.0.1:8080", "http://127.0.0.1:8080")
        );
        let (ws, http) = url_pair("https://game.example.com/n/b").unwrap();
        assert_eq!(
            (ws.as_str(), http.as_str()),
            ("wss://game.example.com/n/b", "https://game.example.com/n/b")
        );
        let (ws, http) = url_pair("ws://tick-0.tick:8080").unwrap();
        assert_eq!(
            (ws.as_str(), http.as_str()),
            ("ws://tick-0.tick:8080", "http://tick-0.tick:8080")
        );
        assert!(url_pair("ftp://x").is_err());
        assert!(url_pair("http://user@x").is_err());
    }

    #[test]
    fn host_name_is_a_valid_node_id() {
        assert!(NodeId::new(&host_node_id()).is_ok());
    }

    #[test]
    fn static_mode_routes_by_rendezvous() {
        let mut config = Config::default();
        let list = "a=ws://127.0.0.1:1,b=ws://127.0.0.1:2,c=ws://127.0.0.1:3";
        config.peers = Some(list.into());
        let clusters: Vec<Cluster> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                config.node_id = Some((*id).into());
                Cluster::new(
                    &config,
                    "127.0.0.1:9".parse().unwrap(),
                    &Metrics::new(),
                    Vec::new(),
                )
                .unwrap()
            })
            .collect();
        for i in 0..100 {
            let room = format!("room-{i}");
            let locals: Vec<&str> = clusters
                .iter()
                .filter(|c| c.static_route(c.static_cluster(), &room) == Route::Local)
                .map(|c| c.me.id.as_str())
                .collect();
            assert_eq!(locals.len(), 1, "{room}: exactly one owner, got {locals:?}");
            for c in &clusters {
                if let Route::Remote(p) = c.static_route(c.static_cluster(), &room) {
                    assert_eq!(p.id.as_str(), locals[0]);
                    assert_eq!(p.api_url, p.ws_url.as_str().replace("ws://", "http://"));
                }
            }
        }
        assert_eq!(clusters[0].members(0, false).len(), 3);
        assert_eq!(clusters[0].others().len(), 2);
    }

    impl Cluster {
        fn static_cluster(&self) -> &StaticCluster {
            match &self.mode {
                Mode::Static(c) => c,
                _ => panic!("not static"),
            }
        }
    }
}
