//! What a bot needs of a tickroom cluster (see the server's cluster
//! contract): which close frames send it elsewhere ([`CloseKind::of`]), and
//! the `GET /cluster` answer that turns a node id into that node's WebSocket
//! base URL ([`ClusterView`]).
//!
//! Everything here is pure parsing of what the server sent: nothing panics
//! on malformed input, it just does not match.

use serde::Deserialize;

/// Close code of "the room lives on another node".
pub const CLOSE_ELSEWHERE: u16 = 4001;
/// Close code of a node that is going away (draining, or shutting down).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Longest node id the server accepts.
pub const MAX_NODE_ID_BYTES: usize = 64;

/// What a close frame asks of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind<'a> {
    /// 4001 `node=<id>`: the room lives on node `id`; resolve it with
    /// `GET /cluster` and connect there at once.
    Redirect(&'a str),
    /// 4001 with any other reason: reconnect through the entry URL at once.
    Elsewhere,
    /// 1001 `draining...`: the node is draining; reconnect through the entry
    /// URL at once (small jitter), not to that node.
    Draining,
    /// Anything else: what the bot did before clusters.
    Other,
}

impl<'a> CloseKind<'a> {
    /// Classifies a close frame by its code and reason.
    pub fn of(code: u16, reason: &'a str) -> CloseKind<'a> {
        match code {
            CLOSE_ELSEWHERE => {
                redirect_node(reason).map_or(CloseKind::Elsewhere, CloseKind::Redirect)
            }
            CLOSE_GOING_AWAY if reason.starts_with("draining") => CloseKind::Draining,
            _ => CloseKind::Other,
        }
    }
}

/// The node id of a 4001 reason `node=<id>`, when `id` is a valid node id
/// (1 to 64 bytes of `A-Z a-z 0-9 - _ .`).
pub fn redirect_node(reason: &str) -> Option<&str> {
    let id = reason.strip_prefix("node=")?;
    valid_node_id(id).then_some(id)
}

/// Whether `id` is a node id the server could have: 1 to 64 bytes of
/// `A-Z a-z 0-9 - _ .`.
pub fn valid_node_id(id: &str) -> bool {
    (1..=MAX_NODE_ID_BYTES).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The answer of `GET /cluster`. Unknown fields are ignored, so a newer
/// server's additions do not break the bots.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClusterView {
    /// The id of the node that answered.
    pub node: String,
    /// `single`, `static` or `redis`.
    #[serde(default)]
    pub mode: String,
    /// Live members, sorted by id.
    #[serde(default)]
    pub members: Vec<Member>,
}

/// One live member of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// Node id.
    pub id: String,
    /// WebSocket base URL (`ws://host:port`): append `/ws?room=..&name=..`.
    pub url: String,
    /// `up` or `draining`. (Other fields, such as `rooms`, are not read.)
    #[serde(default)]
    pub state: String,
}

impl ClusterView {
    /// Parses a `/cluster` body.
    pub fn parse(body: &[u8]) -> Result<ClusterView, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// The member with id `id`, if it is live.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_close_frames() {
        assert_eq!(CloseKind::of(4001, "node=b"), CloseKind::Redirect("b"));
        assert_eq!(
            CloseKind::of(4001, "node=eu-west_1.a"),
            CloseKind::Redirect("eu-west_1.a")
        );
        assert_eq!(
            CloseKind::of(4001, "room lives elsewhere"),
            CloseKind::Elsewhere
        );
        assert_eq!(CloseKind::of(4001, ""), CloseKind::Elsewhere);
        assert_eq!(
            CloseKind::of(1001, "draining: rejoin through the matchmaker"),
            CloseKind::Draining
        );
        assert_eq!(CloseKind::of(1001, "going away"), CloseKind::Other);
        assert_eq!(CloseKind::of(1013, "cluster unavailable"), CloseKind::Other);
        assert_eq!(CloseKind::of(1000, "node=b"), CloseKind::Other);
    }

    #[test]
    fn parses_the_node_of_a_redirect() {
        assert_eq!(redirect_node("node=a"), Some("a"));
        assert_eq!(redirect_node("node=A-z_0.9"), Some("A-z_0.9"));
        let longest = format!("node={}", "x".repeat(64));
        assert_eq!(redirect_node(&longest), Some(&longest[5..]));
        for bad in [
            "", "node=", "node", "node =a", "Node=a", " node=a", "node=a b", "node=a/b", "node=é",
            "node=a\n", "nodes=a",
        ] {
            assert_eq!(redirect_node(bad), None, "{bad:?}");
        }
        assert_eq!(redirect_node(&format!("node={}", "x".repeat(65))), None);
    }

    #[test]
    fn parses_the_cluster_answer() {
        let body = br#"{"node":"a","mode":"static","members":[
            {"id":"a","url":"ws://127.0.0.1:1234","state":"up","rooms":3},
            {"id":"b","url":"ws://127.0.0.1:1235","state":"draining","rooms":0,"extra":true}
        ],"future":{"x":1}}"#;
        let view = ClusterView::parse(body).unwrap();
        assert_eq!(view.node, "a");
        assert_eq!(view.mode, "static");
        assert_eq!(view.members.len(), 2);
        let b = view.member("b").unwrap();
        assert_eq!(
            (b.url.as_str(), b.state.as_str()),
            ("ws://127.0.0.1:1235", "draining")
        );
        assert!(view.member("c").is_none());

        // Single mode lists only itself; missing optional fields default.
        let view =
            ClusterView::parse(br#"{"node":"solo","members":[{"id":"solo","url":"ws://h:1"}]}"#)
                .unwrap();
        assert_eq!(view.member("solo").unwrap().state, "");

        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            br#"{"members":[]}"#,
            br#"{"node":"a","members":[{"id":"b"}]}"#,
            br#"{"node":"a","members":{"id":"b","url":"ws://h:1"}}"#,
        ] {
            assert!(
                ClusterView::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
