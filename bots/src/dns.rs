//! Name resolution of a server target, in one place for the swarm (once per
//! entry) and the bots (once per followed redirect), so neither module needs
//! the other for it.

use std::net::SocketAddr;

use crate::{Error, url::Target};

/// Resolves a server to one address (never an empty list), IPv4 first (a
/// server bound to 127.0.0.1 refuses bots that picked `::1` for
/// `localhost`): once per entry for the whole swarm, and once per followed
/// redirect.
pub(crate) async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, Error> {
    let host = format!("{}:{}", target.host, target.port);
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.resolve_host(), target.port))
        .await
        .map_err(|e| Error::Resolve {
            host: host.clone(),
            source: Some(e),
        })?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs.truncate(1);
    if addrs.is_empty() {
        return Err(Error::Resolve { host, source: None });
    }
    Ok(addrs)
}
