//! Known default timeouts of the components WebSocket sessions cross: the one place they
//! are listed, each with its source.
//!
//! Contract: [`KNOWN_TIMEOUTS`] is the table; [`matching`] names the entries of one kind
//! (idle or lifetime) within [`MATCH_TOLERANCE`] of a value.
//! The 1006 diagnosis compares its clusters with it (`Cluster.known_default`). An entry is
//! a default, or a fixed limit the service does not let you change; settings with no
//! default (HAProxy's `timeout tunnel`) are not in it.

use serde::Serialize;

/// A value matches a known timeout within ±2 % (the tolerance of the diagnosis's
/// clusters: timers fire a little late, capture points see the FIN a few ms after).
pub const MATCH_TOLERANCE: f64 = 0.02;

/// Which measure a timeout limits (and which column a 1006 cluster was found in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `idle_before_end_s`
    Idle,
    /// `duration_s`
    Lifetime,
}

/// One well-known timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownTimeout {
    pub seconds: f64,
    /// `Idle`: the connection is cut after this long without traffic; `Lifetime`: after
    /// this long whatever the traffic.
    pub measure: Measure,
    /// The component and its setting, as the diagnosis names it.
    pub what: &'static str,
    /// Where the value comes from.
    pub source: &'static str,
}

/// The table. Order: by value, then idle before lifetime.
pub const KNOWN_TIMEOUTS: &[KnownTimeout] = &[
    KnownTimeout {
        seconds: 30.0,
        measure: Measure::Lifetime,
        what: "the GCP external HTTP(S) load balancer backend service timeout (30 s, \
               a WebSocket's whole lifetime)",
        source: "cloud.google.com/load-balancing/docs/https (Backend service timeout: \
                 \"for WebSocket traffic, the maximum amount of time that a WebSocket can \
                 be open\", default 30 s)",
    },
    KnownTimeout {
        seconds: 60.0,
        measure: Measure::Idle,
        what: "nginx proxy_read_timeout (60 s default, reset by traffic either way)",
        source: "nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_read_timeout \
                 (Default: 60s); nginx.org/en/docs/http/websocket.html",
    },
    KnownTimeout {
        seconds: 60.0,
        measure: Measure::Idle,
        what: "Kubernetes ingress-nginx proxy-read-timeout / proxy-send-timeout (60 s)",
        source: "kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/\
                 configmap/ (proxy-read-timeout: 60)",
    },
    KnownTimeout {
        seconds: 60.0,
        measure: Measure::Idle,
        what: "the AWS ALB idle timeout (60 s default)",
        source: "docs.aws.amazon.com/elasticloadbalancing/latest/application/\
                 application-load-balancers.html#connection-idle-timeout",
    },
    KnownTimeout {
        seconds: 100.0,
        measure: Measure::Idle,
        what: "Cloudflare's 100 s proxy idle limit",
        source: "developers.cloudflare.com/network/websockets/ and the Cloudflare \
                 Connection limits page (Proxy Read Timeout / idle: 100 s)",
    },
    KnownTimeout {
        seconds: 300.0,
        measure: Measure::Idle,
        what: "Envoy stream_idle_timeout (300 s / 5 min default), or a common 300 s \
               proxy/NAT idle timeout",
        source: "envoyproxy.io/docs: HttpConnectionManager.stream_idle_timeout \
                 (\"If not specified, this defaults to 5 minutes\")",
    },
    KnownTimeout {
        seconds: 350.0,
        measure: Measure::Idle,
        what: "the AWS NLB TCP idle timeout / AWS NAT gateway idle timeout (350 s)",
        source: "docs.aws.amazon.com/elasticloadbalancing/latest/network/\
                 network-load-balancers.html#connection-idle-timeout (350 s); \
                 docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html",
    },
    KnownTimeout {
        seconds: 600.0,
        measure: Measure::Idle,
        what: "the AWS API Gateway WebSocket idle timeout (10 min / 600 s), or a common \
               600 s proxy/NAT idle timeout",
        source: "docs.aws.amazon.com/apigateway/latest/developerguide/limits.html \
                 (Idle Connection timeout for WebSocket APIs: 10 minutes)",
    },
    KnownTimeout {
        seconds: 7200.0,
        measure: Measure::Lifetime,
        what: "the AWS API Gateway WebSocket connection duration limit (2 h)",
        source: "docs.aws.amazon.com/apigateway/latest/developerguide/limits.html \
                 (Connection duration for WebSocket API: 2 hours)",
    },
];

/// The known timeouts of kind `measure` within the tolerance of `value_s`, joined with
/// `; ` (several components share 60 s), or `None`.
pub fn matching(value_s: f64, measure: Measure) -> Option<String> {
    let names: Vec<&str> = KNOWN_TIMEOUTS
        .iter()
        .filter(|k| {
            k.measure == measure && (value_s - k.seconds).abs() <= k.seconds * MATCH_TOLERANCE
        })
        .map(|k| k.what)
        .collect();
    if names.is_empty() {
        None
    } else {
        Some(names.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_at_60_and_100_s_is_named_45_s_is_not() {
        let m60 = matching(60.0, Measure::Idle).unwrap();
        assert!(m60.contains("nginx proxy_read_timeout"), "{m60}");
        assert!(m60.contains("AWS ALB"), "{m60}");
        assert!(m60.contains("ingress-nginx"), "{m60}");
        assert!(matching(100.0, Measure::Idle)
            .unwrap()
            .contains("Cloudflare"));
        assert_eq!(matching(45.0, Measure::Idle), None);
        // a lifetime of 60 s is no idle timeout
        assert_eq!(matching(60.0, Measure::Lifetime), None);
        assert!(matching(30.2, Measure::Lifetime).unwrap().contains("GCP"));
        assert_eq!(matching(30.0, Measure::Idle), None);
        assert!(matching(7200.0, Measure::Lifetime)
            .unwrap()
            .contains("API Gateway"));
    }

    #[test]
    fn every_entry_names_its_source() {
        for k in KNOWN_TIMEOUTS {
            assert!(k.source.len() > 20 && k.seconds > 0.0, "{k:?}");
        }
    }
}
