//! Requests the server makes to URLs its users choose (avatar URLs, link previews), through one
//! guard against server-side request forgery: only `http` and `https`; unless the operator
//! allows private addresses (tests, trusted intranets), only public addresses, checked on
//! literal addresses in the URL, on every address a name resolves to (the resolver drops the
//! others, so a name pointing into the server's network fails to connect), and on every
//! redirect, each hop also passing the caller's own rule; a total timeout; bodies read only up
//! to a cap.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whether an address is one anybody on the internet could reach: not loopback, private,
/// link-local, shared (CGNAT), documentation, multicast, broadcast or otherwise reserved.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                // NAT64 and IPv4-compatible forms could reach private IPv4 space.
                || (first == 0x0064 && v6.segments()[1] == 0xff9b)
                || v6.segments()[..6].iter().all(|s| *s == 0))
        }
    }
}

/// Resolves names as usual but keeps only public addresses, so that a name pointing at the
/// server's own network fails to connect instead of being fetched.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public_address(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether a URL may be fetched: `http` or `https`, and when `allow_private` is off, no
/// literal non-public address (names are checked by the resolver).
pub fn url_allowed(url: &reqwest::Url, allow_private: bool) -> bool {
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    if allow_private {
        return true;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 literals come bracketed; names are left to the resolver.
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => is_public_address(ip),
        Err(_) => true,
    }
}

/// How a guarded client behaves.
pub struct Limits {
    /// The whole exchange, redirects and body included.
    pub total: Duration,
    pub connect: Duration,
    pub max_redirects: usize,
    pub user_agent: String,
}

/// A client whose every request and redirect passes the guard (`allow_private` lifting the
/// public-address rule) and `also`, the caller's own rule for where it may go.
pub fn client(
    allow_private: bool,
    limits: Limits,
    also: impl Fn(&reqwest::Url) -> bool + Send + Sync + 'static,
) -> std::result::Result<reqwest::Client, String> {
    comet_media::blobs::install_crypto_provider();
    let max_redirects = limits.max_redirects;
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= max_redirects {
            attempt.error("too many redirects")
        } else if !url_allowed(attempt.url(), allow_private) || !also(attempt.url()) {
            attempt.error("redirect to a refused address")
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(limits.total)
        .connect_timeout(limits.connect)
        .redirect(redirects)
        .user_agent(limits.user_agent);
    if !allow_private {
        // Through a proxy (`HTTP_PROXY` and the like in the environment) the proxy resolves
        // names itself and the resolver below would never see the address: such fetches go
        // direct, so the check holds proxy or not.
        builder = builder
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver));
    }
    builder.build().map_err(|e| e.to_string())
}

/// Reads at most `limit` bytes of a response's body and stops there (the rest is never
/// downloaded); true with the bytes when the body went on past the cap.
pub async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> std::result::Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - bytes.len();
        if chunk.len() >= room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, chunk.len() > room));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            let ip: IpAddr = private.parse().expect("address");
            assert!(!is_public_address(ip), "{private} passed");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
            let ip: IpAddr = public.parse().expect("address");
            assert!(is_public_address(ip), "{public} refused");
        }
    }

    #[test]
    fn urls_must_be_http_or_https_and_not_literal_private_addresses() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(url_allowed(&url("http://example.com/a.png"), false));
        assert!(url_allowed(&url("https://example.com/a.png"), false));
        assert!(!url_allowed(&url("https://10.0.0.1/a.png"), false));
        assert!(!url_allowed(&url("file:///etc/passwd"), true));
        assert!(!url_allowed(&url("ftp://example.com/a.png"), true));
        assert!(!url_allowed(&url("http://127.0.0.1:8080/a.png"), false));
        assert!(!url_allowed(&url("http://[::1]/a.png"), false));
        assert!(url_allowed(&url("http://127.0.0.1:8080/a.png"), true));
    }
}
