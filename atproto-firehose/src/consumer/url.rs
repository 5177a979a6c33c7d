//! The `subscribeRepos` address a consumer connects to.

use std::format;
use std::string::{String, ToString};

use tokio_tungstenite::tungstenite::http::Uri;

use super::error::ConsumerError;

/// The XRPC path of the firehose, added to a URL that has no path.
pub const SUBSCRIBE_REPOS_PATH: &str = "/xrpc/com.atproto.sync.subscribeRepos";

/// A validated `ws://` or `wss://` base address of a `subscribeRepos`
/// endpoint; [`with_cursor`](SubscribeUrl::with_cursor) gives the address of
/// one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeUrl {
    tls: bool,
    host: String,
    port: u16,
    /// Path and the query parameters other than `cursor` (`?…` included).
    path_and_query: String,
}

impl SubscribeUrl {
    /// Parses `ws://host[:port][/path][?query]` or `wss://…`. An empty path
    /// (or `/`) becomes [`SUBSCRIBE_REPOS_PATH`]; a `cursor` query parameter
    /// is dropped (the consumer sets its own on each connection).
    ///
    /// # Errors
    /// [`ConsumerError::Url`]: not a URL, a scheme other than `ws`/`wss`,
    /// no host, user info.
    pub fn parse(url: &str) -> Result<SubscribeUrl, ConsumerError> {
        let bad = |reason: &str| ConsumerError::Url {
            url: url.into(),
            reason: reason.into(),
        };
        let uri: Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            Some(_) => return Err(bad("the scheme is not ws or wss")),
            None => return Err(bad("no scheme (ws:// or wss://)")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info is not supported"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = match uri.path() {
            "" | "/" => SUBSCRIBE_REPOS_PATH,
            p => p,
        };
        let mut path_and_query = path.to_string();
        let kept: std::vec::Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && *p != "cursor" && !p.starts_with("cursor="))
            .collect();
        if !kept.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&kept.join("&"));
        }
        Ok(SubscribeUrl {
            tls,
            host: host.into(),
            port,
            path_and_query,
        })
    }

    /// Whether the scheme is `wss` (TLS).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host name or address (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default (80, 443).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address of one connection: `cursor` appended when given.
    pub fn with_cursor(&self, cursor: Option<i64>) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let mut out = format!(
            "{scheme}://{}:{}{}",
            self.host, self.port, self.path_and_query
        );
        if let Some(cursor) = cursor {
            out.push(if self.path_and_query.contains('?') {
                '&'
            } else {
                '?'
            });
            out.push_str(&format!("cursor={cursor}"));
        }
        out
    }
}

impl core::fmt::Display for SubscribeUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.with_cursor(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_added_when_absent_and_cursor_replaced() {
        let u = SubscribeUrl::parse("ws://127.0.0.1:2583").unwrap();
        assert_eq!(
            u.with_cursor(None),
            "ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos"
        );
        assert_eq!(
            u.with_cursor(Some(42)),
            "ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos?cursor=42"
        );
        let u = SubscribeUrl::parse("wss://relay.example/custom/path?cursor=9&x=1").unwrap();
        assert!(u.is_tls());
        assert_eq!(u.port(), 443);
        assert_eq!(
            u.with_cursor(Some(0)),
            "wss://relay.example:443/custom/path?x=1&cursor=0"
        );
        let u = SubscribeUrl::parse("ws://[::1]:80/").unwrap();
        assert_eq!(u.host(), "[::1]");
    }

    #[test]
    fn refused_urls_say_why() {
        for (url, why) in [
            ("http://host", "scheme"),
            ("host:80", "scheme"),
            ("ws://user@host", "user info"),
            ("not a url", ""),
        ] {
            let e = SubscribeUrl::parse(url).unwrap_err();
            assert!(e.to_string().contains(why), "{url}: {e}");
        }
    }
}
