//! Who the client is when Folio runs behind load balancers (`FOLIO_TRUSTED_PROXIES`).
//!
//! Only a request whose connection comes from a trusted proxy has its client address taken
//! from `X-Forwarded-For` and its scheme from `X-Forwarded-Proto`; anyone else's forwarded
//! headers are ignored, so a client cannot choose the address that throttling counts.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The addresses and ranges of the load balancers in front of Folio.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// The client as Folio sees it after believing what trusted proxies say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub ip: Option<IpAddr>,
    pub https: bool,
}

impl Client {
    /// The address as throttling and logs record it.
    pub fn address(&self) -> String {
        self.ip
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }

    /// The network one party controls, for counting sign-ups: an IPv4 address, or an IPv6
    /// address's /64 (a single host is routinely given a whole /64 to pick addresses from).
    pub fn network(&self) -> String {
        match self.ip {
            Some(IpAddr::V6(ip)) if ip.to_ipv4_mapped().is_none() => {
                let mut segments = ip.segments();
                segments[4..].fill(0);
                format!("{}/64", std::net::Ipv6Addr::from(segments))
            }
            _ => self.address(),
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }
}

impl TrustedProxies {
    /// A comma-separated list of addresses (`10.0.0.5`, `::1`) and CIDR ranges
    /// (`10.0.0.0/8`, `fd00::/8`); empty entries are skipped.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("'{entry}' is neither an IP address nor a CIDR range like 10.0.0.0/8")
                })?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Resolves the client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Client {
        let peer_ip = peer.map(|p| p.ip().to_canonical());
        let direct = Client {
            ip: peer_ip,
            https: false,
        };
        let Some(peer_ip) = peer_ip.filter(|ip| self.contains(*ip)) else {
            return direct;
        };
        // Each proxy appends the address it saw; walk back from the nearest until an address
        // that is not a trusted proxy: that is the client. An entry that is not an address
        // stops the walk at the last hop that could be believed.
        // Split as bytes: one hop of junk must not hide the hops the proxies appended.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(|hop| std::str::from_utf8(hop).map_or("", str::trim))
            .collect();
        let mut client = peer_ip;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Client {
            ip: Some(client),
            https,
        }
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client of a request, with the proxies the app was configured with.
pub fn client_of(req: &actix_web::HttpRequest) -> Client {
    // Every request's span asks: borrowed, not copied.
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client(req.peer_addr(), req.headers()),
        None => TrustedProxies::default().client(req.peer_addr(), req.headers()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv6_clients_count_by_their_64() {
        let client = |ip: &str| Client {
            ip: Some(ip.parse().expect("an address")),
            https: false,
        };
        assert_eq!(
            client("2001:db8:1:2:aaaa::1").network(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client("2001:db8:1:2:bbbb:cc::9").network(),
            client("2001:db8:1:2::7").network()
        );
        assert_eq!(client("203.0.113.9").network(), "203.0.113.9");
        assert_eq!(client("::ffff:203.0.113.9").network(), "::ffff:203.0.113.9");
    }

    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("ip"), 40000))
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn entries_are_addresses_or_ranges() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,::1,").expect("valid");
        assert!(proxies.contains("10.1.2.3".parse().expect("ip")));
        assert!(proxies.contains("192.168.1.7".parse().expect("ip")));
        assert!(!proxies.contains("192.168.1.8".parse().expect("ip")));
        assert!(proxies.contains("::1".parse().expect("ip")));
        // An IPv4 peer seen on an IPv6 socket is still that IPv4 address.
        assert!(proxies.contains("::ffff:10.0.0.1".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "localhost", "10.0.0", "1.2.3.4/8/1"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").expect("empty").is_empty());
    }

    #[test]
    fn forwarded_headers_are_ignored_from_anyone_else() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = proxies.client(peer("203.0.113.9"), &h);
        assert_eq!(client.ip, ip("203.0.113.9"));
        assert!(!client.https);
        let none = TrustedProxies::default().client(peer("10.0.0.1"), &h);
        assert_eq!(none.ip, ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        // The client forged the first entry; the proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.4"),
            ("x-forwarded-for", "10.0.0.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = proxies.client(peer("10.0.0.2"), &h);
        assert_eq!(client.ip, ip("198.51.100.4"));
        assert!(client.https);
        assert_eq!(client.scheme(), "https");
    }

    #[test]
    fn odd_chains_fall_back_to_what_can_be_believed() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("valid");
        // Every hop trusted: the farthest one is the best we know.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.7")]);
        assert_eq!(proxies.client(peer("10.0.0.2"), &h).ip, ip("10.9.9.9"));
        // Garbage stops the walk at the last address that could be believed.
        let h = headers(&[("x-forwarded-for", "198.51.100.4, unknown, 10.0.0.7")]);
        assert_eq!(proxies.client(peer("10.0.0.2"), &h).ip, ip("10.0.0.7"));
        // A hop that is not even text does not hide the ones after it.
        let mut h = HeaderMap::new();
        h.append(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.4").expect("value"),
        );
        assert_eq!(proxies.client(peer("10.0.0.2"), &h).ip, ip("198.51.100.4"));
        // Ports and brackets are allowed.
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
        assert_eq!(proxies.client(peer("10.0.0.2"), &h).ip, ip("2001:db8::5"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.client(peer("10.0.0.2"), &HeaderMap::new()).ip,
            ip("10.0.0.2")
        );
    }
}
