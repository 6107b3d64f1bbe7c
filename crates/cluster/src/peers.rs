//! Static clusters: a fixed list of `id=ws-url` peers, the same on every
//! node, where a room belongs to its pure rendezvous winner among all of
//! them (equal weights, no claims, no liveness: a peer that is down keeps
//! its rooms, which is the price of needing no shared state).
//!
//! **Syntax.** Entries are separated by commas and/or whitespace (so a
//! `--peers` flag and a multi-line environment variable both work), and each
//! is `id=url` with no space around `=`: the id a [`NodeId`], the URL a
//! [`WsUrl`]. Empty entries (a trailing comma) are ignored; a list with no
//! entry, a repeated id or a repeated URL is refused. The list must name the
//! node itself, so every node hashes over the same set.
//!
//! This module never resolves or contacts a peer; it only parses and places.

use crate::{
    Error, Result,
    hrw::{Candidate, winner},
    node::{NodeId, WsUrl},
    target::Target,
};

/// One member of a static cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its id.
    pub id: NodeId,
    /// Where players reach it.
    pub url: WsUrl,
}

/// Parses a peer list (see the module doc for the syntax), in the order
/// written.
pub fn parse_peers(list: &str) -> Result<Vec<Peer>> {
    let peers = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (id, url) = entry.split_once('=').ok_or_else(|| Error::PeerEntry {
                entry: entry.to_owned(),
            })?;
            Ok(Peer {
                id: NodeId::new(id)?,
                url: WsUrl::new(url)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    check_unique(&peers)?;
    Ok(peers)
}

fn check_unique(peers: &[Peer]) -> Result<()> {
    if peers.is_empty() {
        return Err(Error::NoPeers);
    }
    for (i, p) in peers.iter().enumerate() {
        if let Some(q) = peers[..i].iter().find(|q| q.id == p.id) {
            return Err(Error::DuplicatePeer {
                id: q.id.to_string(),
            });
        }
        if let Some(q) = peers[..i].iter().find(|q| q.url == p.url) {
            return Err(Error::DuplicateUrl {
                url: q.url.to_string(),
            });
        }
    }
    Ok(())
}

/// A fixed cluster seen from one of its nodes: placement is the pure HRW
/// winner among all peers.
#[derive(Debug, Clone)]
pub struct StaticCluster {
    self_id: NodeId,
    /// Sorted by id, so two nodes given the list in different orders hold
    /// the same value (placement does not depend on the order either).
    peers: Vec<Peer>,
}

impl StaticCluster {
    /// The cluster of `peers` as node `self_id` sees it; `self_id` must be
    /// one of them, and ids and URLs must be unique.
    pub fn new(self_id: NodeId, mut peers: Vec<Peer>) -> Result<Self> {
        check_unique(&peers)?;
        if !peers.iter().any(|p| p.id == self_id) {
            return Err(Error::SelfNotInPeers {
                id: self_id.to_string(),
            });
        }
        peers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self { self_id, peers })
    }

    /// [`parse_peers`] then [`StaticCluster::new`].
    pub fn parse(self_id: NodeId, list: &str) -> Result<Self> {
        Self::new(self_id, parse_peers(list)?)
    }

    /// This node's id.
    pub fn self_id(&self) -> &NodeId {
        &self.self_id
    }

    /// Every peer, this node included, sorted by id.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// Where room `room` runs: its rendezvous winner among the peers.
    pub fn place(&self, room: &str) -> Target {
        let node = winner(room, self.peers.iter().map(|p| Candidate::new(&p.id)))
            .expect("a static cluster has at least one peer");
        if *node == self.self_id {
            return Target::Local;
        }
        let peer = self
            .peers
            .iter()
            .find(|p| p.id == *node)
            .expect("the winner is a peer");
        Target::Remote {
            node: peer.id.clone(),
            url: peer.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Good lists: what they parse to.
    #[test]
    fn parses() {
        for (list, expected) in [
            ("a=ws://h1:8080", vec![("a", "ws://h1:8080")]),
            (
                "a=ws://h1:8080,b=wss://h2/t",
                vec![("a", "ws://h1:8080"), ("b", "wss://h2/t")],
            ),
            (
                " b=ws://h2 , a=ws://h1,\n\tc=ws://[::1]:9000,",
                vec![("b", "ws://h2"), ("a", "ws://h1"), ("c", "ws://[::1]:9000")],
            ),
            (
                "a=ws://h1 b=ws://h2",
                vec![("a", "ws://h1"), ("b", "ws://h2")],
            ),
            (",,a=ws://h1,,", vec![("a", "ws://h1")]),
        ] {
            let got: Vec<(String, String)> = parse_peers(list)
                .unwrap_or_else(|e| panic!("{list:?}: {e}"))
                .into_iter()
                .map(|p| (p.id.to_string(), p.url.to_string()))
                .collect();
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(i, u)| (i.to_owned(), u.to_owned()))
                .collect();
            assert_eq!(got, expected, "{list:?}");
        }
    }

    /// Bad lists: the error, and its message as an operator reads it.
    #[test]
    fn refuses() {
        for (list, message) in [
            (
                "",
                "the peer list is empty: expected id=ws-url entries separated by commas",
            ),
            (
                " , ",
                "the peer list is empty: expected id=ws-url entries separated by commas",
            ),
            ("a", "peer entry `a` is not id=ws-url"),
            ("a=ws://h1,ws://h2", "peer entry `ws://h2` is not id=ws-url"),
            ("a = ws://h1", "peer entry `a` is not id=ws-url"),
            (
                "=ws://h1",
                "invalid node id ``: node ids are 1 to 64 characters of A-Z a-z 0-9 - _ .",
            ),
            (
                "a.b/c=ws://h1",
                "invalid node id `a.b/c`: node ids are 1 to 64 characters of A-Z a-z 0-9 - _ .",
            ),
            (
                "a=",
                "invalid node URL ``: it must start with ws:// or wss://",
            ),
            (
                "a=http://h1",
                "invalid node URL `http://h1`: it must start with ws:// or wss://",
            ),
            (
                "a=ws://h1:80=x",
                "invalid node URL `ws://h1:80=x`: the port must be a number from 1 to 65535",
            ),
            (
                "a=ws://h1?x=1",
                "invalid node URL `ws://h1?x=1`: a node URL has no query or fragment",
            ),
            ("a=ws://h1,a=ws://h2", "peer `a` is listed twice"),
            (
                "a=ws://h1,b=ws://h1",
                "URL `ws://h1` is listed for two peers",
            ),
        ] {
            let err = parse_peers(list).expect_err(list);
            assert_eq!(err.to_string(), message, "{list:?}");
        }
        assert!(matches!(parse_peers("a"), Err(Error::PeerEntry { .. })));
        assert!(matches!(
            parse_peers("a=ws://h,a=ws://i"),
            Err(Error::DuplicatePeer { .. })
        ));
        assert_eq!(
            StaticCluster::parse(id("c"), "a=ws://h1,b=ws://h2").unwrap_err(),
            Error::SelfNotInPeers { id: "c".into() }
        );
        assert_eq!(
            Error::SelfNotInPeers { id: "c".into() }.to_string(),
            "this node `c` is not in the peer list"
        );
    }

    /// Every node of the cluster, given the list in any order, sends each
    /// room to the same node; exactly one of them answers "local".
    #[test]
    fn every_node_agrees() {
        let list = "a=ws://h1:8080,b=ws://h2:8080,c=ws://h3:8080";
        let reversed = "c=ws://h3:8080 b=ws://h2:8080 a=ws://h1:8080";
        let nodes: Vec<StaticCluster> = ["a", "b", "c"]
            .iter()
            .map(|n| StaticCluster::parse(id(n), list).unwrap())
            .chain(
                ["a", "b", "c"]
                    .iter()
                    .map(|n| StaticCluster::parse(id(n), reversed).unwrap()),
            )
            .collect();
        let mut owned = [0u32; 3];
        for i in 0..3_000 {
            let room = format!("room-{i}");
            let owner = winner(
                &room,
                nodes[0].peers().iter().map(|p| Candidate::new(&p.id)),
            )
            .unwrap()
            .clone();
            for node in &nodes {
                match node.place(&room) {
                    Target::Local => assert_eq!(*node.self_id(), owner),
                    Target::Remote { node: n, url } => {
                        assert_ne!(*node.self_id(), owner);
                        assert_eq!(n, owner);
                        let listed = node.peers().iter().find(|p| p.id == owner).unwrap();
                        assert_eq!(url, listed.url);
                    }
                }
            }
            owned[usize::from(owner.as_bytes()[0] - b'a')] += 1;
        }
        println!("static a, b, c over 3,000 rooms: {owned:?}");
        assert!(
            owned.iter().all(|&n| (850..=1150).contains(&n)),
            "{owned:?}"
        );
        assert_eq!(nodes[0].peers(), nodes[3].peers());
    }
}
