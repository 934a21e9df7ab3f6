//! Proxies: the two legs of a proxied session paired, and what the proxy did to them.
//!
//! Contract: [`pair`] reads only columns of the session table of `docs/schema.md`
//! (`capture`, `session_id`, `client_ip`/`client_port`, `server_ip`/`server_port`,
//! `start_time`, `established_time`, `end_time`, `path`, `websocket_key`, `ending`,
//! `tcp_end`, `idle_before_end_s`, `duration_s`, `client_close_code`,
//! `server_close_code`) and tolerates nulls in all of them (log rows pair with nothing).
//!
//! A proxy that passes the handshake through forwards the client's `Sec-WebSocket-Key`
//! (nginx, HAProxy, Envoy, Traefik, mitmproxy do): two rows with the same key are the two
//! legs of one session ([`Confidence::Key`]). The downstream leg (client → proxy) is the
//! one whose handshake encloses the other's: the proxy opens the upstream leg after the
//! request reached it and relays the 101 after the upstream's came back; with handshake
//! times from two captures this holds whatever the clocks (it compares each leg's own
//! handshake span). Rows no key paired are paired by path and timing where a proxy
//! makes its own key ([`Confidence::PathTime`]): same request path, the downstream's
//! server address is the upstream's client address (one proxy host), another server,
//! and nested handshakes (one capture) or starts within [`FALLBACK_WINDOW_S`].
//!
//! Across captures the clock skew of each (downstream capture, upstream capture) is the
//! median difference of the midpoints of the paired handshakes (both legs' handshakes
//! are centred on the same moment) and is taken out before comparing end times.
//!
//! Per pair: which leg ended first and how (`tcp_end` of each leg), whether a Close
//! reached one end that the other end never sent (the proxy's own Close), whether the
//! codes changed on the way (`code_rewritten`), and whether the proxy cut it: both legs
//! ended without a Close frame, the downstream by its server side (the proxy) and the
//! upstream by its client side (the proxy). Memory: indices and borrowed strings over
//! the table, plus one small struct per pair.

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::table::columns::{f64_ca, hashes, i64_ca, stable_hash, str_ca, u16s, u64s};

/// A cut after at least this long idle is an idle cut (a timeout); a shorter one came
/// while traffic was flowing (the 1006 diagnosis's `CLUSTER_MIN_VALUE_S` as well).
pub const IDLE_CUT_MIN_S: f64 = 1.0;

/// Legs with the same key whose starts are at most this far apart (clocks of two
/// capture points may differ by a few seconds).
pub const KEY_WINDOW_S: f64 = 10.0;

/// Rows with the same key looked at on each side of a leg (by start time).
pub const KEY_CANDIDATES: usize = 16;

/// Fallback pairing: how many later starts on the same path are tried per leg.
pub const FALLBACK_CANDIDATES: usize = 64;

/// Fallback pairing (no key): legs whose starts are at most this far apart.
pub const FALLBACK_WINDOW_S: f64 = 2.0;

/// How a pair was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The same `Sec-WebSocket-Key` on both legs.
    Key,
    /// Same path, the proxy's address on both legs, nested handshakes or close starts.
    PathTime,
}

/// One user session seen on both sides of a proxy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pair {
    /// The address the client connected to (`ip:port`).
    pub proxy: String,
    pub downstream_capture: String,
    pub downstream_session_id: String,
    pub upstream_capture: String,
    pub upstream_session_id: String,
    pub confidence: Confidence,
    /// `downstream`, `upstream`, or `both` when the ends are within a millisecond
    /// (after the clock skew is taken out); `None` while a leg is open.
    pub first_leg_ended: Option<String>,
    /// `tcp_end` of each leg (`server_fin` on the downstream leg is the proxy's FIN).
    pub downstream_tcp_end: Option<String>,
    pub upstream_tcp_end: Option<String>,
    /// The Close the client received (downstream, server side) and the Close the
    /// server sent (upstream, server side); 1005 for an empty Close.
    pub client_received_code: Option<u16>,
    pub server_sent_code: Option<u16>,
    /// The Close the client sent, and the one the server received.
    pub client_sent_code: Option<u16>,
    pub server_received_code: Option<u16>,
    /// A Close reached one end that differs from what the other end sent, or one end
    /// got a Close the other never sent, or one was sent and never relayed.
    pub code_rewritten: bool,
    /// The proxy sent a Close of its own: `client` (a Close reached the client that the
    /// server never sent), `server`, or `None`.
    pub proxy_close_to: Option<String>,
    /// A code that must never be on the wire (1006, 1015) was on one of the legs.
    pub forbidden_code_on_wire: bool,
    /// Both legs ended by the proxy, no Close frame on either.
    pub proxy_cut: bool,
    /// Idle time before the end: the shorter of the two legs' (the last frame on either).
    pub idle_s: Option<f64>,
    /// The downstream leg's lifetime.
    pub duration_s: Option<f64>,
}

/// The proxy cut sessions of one proxy, one way of cutting (idle or active).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cut {
    pub proxy: String,
    /// `idle`: the sessions had been idle at least 1 s (a timeout); `active`: traffic
    /// was flowing (a reload, a shutdown, a lifetime limit).
    pub kind: String,
    pub sessions: u64,
    /// Median idle time before the cut.
    pub idle_s: f64,
    /// Median lifetime.
    pub duration_s: f64,
    /// What the proxy sent each side, with counts: `FIN` / `RST` (`FIN 2, RST 1`).
    pub to_client: String,
    pub to_server: String,
}

/// Per proxy address.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyRow {
    pub proxy: String,
    /// Paired user sessions.
    pub sessions: u64,
    pub cuts_idle: u64,
    pub cuts_active: u64,
    pub codes_rewritten: u64,
    pub proxy_closes: u64,
}

/// The clock difference between two capture points, from paired handshakes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skew {
    pub downstream_capture: String,
    pub upstream_capture: String,
    pub pairs: u64,
    /// Upstream capture's clock minus the downstream capture's (median), seconds.
    pub skew_s: f64,
}

/// Everything the proxies section says.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Proxies {
    /// Every pair (the `--proxies` export; not in the JSON report, which can be big).
    #[serde(skip)]
    pub pairs: Vec<Pair>,
    /// Paired sessions (each counted once).
    pub paired_sessions: u64,
    pub proxies: Vec<ProxyRow>,
    pub cuts: Vec<Cut>,
    pub skews: Vec<Skew>,
    /// Rows with a WebSocket key that were not paired, in captures where pairs were
    /// found (the other leg was not captured, or is in no input).
    pub unpaired_legs: u64,
    /// Per row of the table: `downstream`, `upstream` or `None`; the paired row's
    /// session id; the proxy address (for the `leg`/`proxy` columns of `--by proxy`).
    /// Empty when nothing was paired.
    #[serde(skip)]
    pub leg: Vec<Option<&'static str>>,
    #[serde(skip)]
    pub paired_session_id: Vec<Option<String>>,
    #[serde(skip)]
    pub proxy_of_row: Vec<Option<String>>,
}

impl Proxies {
    /// Whether any pair was found.
    pub fn any(&self) -> bool {
        self.paired_sessions > 0
    }

    /// No pair found (the section is left out of the JSON report).
    pub fn is_empty(&self) -> bool {
        !self.any()
    }

    /// A mask of the rows that are user sessions: every row but the upstream legs.
    pub fn user_mask(&self) -> BooleanChunked {
        self.leg
            .iter()
            .map(|l| *l != Some("upstream"))
            .collect::<BooleanChunked>()
    }
}

/// The columns one pass needs, read once.
struct Cols {
    capture: StringChunked,
    session_id: StringChunked,
    client_ip: StringChunked,
    server_ip: StringChunked,
    server_port: Vec<Option<u16>>,
    path: StringChunked,
    /// `Sec-WebSocket-Key` hashes ([`crate::table::columns::text_hash`]: 0 for an
    /// empty key); the kept table holds them so ([`crate::table::columns::Kept`]).
    key: UInt64Chunked,
    ending: StringChunked,
    tcp_end: StringChunked,
    start: Int64Chunked,
    established: Int64Chunked,
    end: Int64Chunked,
    idle: Float64Chunked,
    duration: Float64Chunked,
    client_close: Vec<Option<u16>>,
    server_close: Vec<Option<u16>>,
    /// Hashes of the client IP, the server IP and the server address (IP and port), one
    /// per row: the pairing loops compare these, not strings made per comparison.
    client_ip_h: Vec<Option<Hash>>,
    server_ip_h: Vec<Option<Hash>>,
    server_h: Vec<Option<Hash>>,
    capture_h: Vec<Option<Hash>>,
}

/// A value's hash, never zero, so that `Option<Hash>` is 8 bytes, not 16 (four per row:
/// ~11 MiB on 350,000 sessions). Equal values have equal hashes; a collision is as
/// (un)likely as with the full 64 bits.
type Hash = std::num::NonZeroU64;

fn hash_of(v: impl std::hash::Hash) -> Hash {
    Hash::new(stable_hash(v)).unwrap_or(Hash::MIN)
}

fn opt_str(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    if df.column(name).is_ok() {
        str_ca(df, name)
    } else {
        Ok(StringChunked::full_null(name.into(), df.height()))
    }
}

impl Cols {
    fn read(df: &DataFrame) -> PolarsResult<Cols> {
        let nulls_i64 = |name: &str| -> PolarsResult<Int64Chunked> {
            if df.column(name).is_ok() {
                i64_ca(df, name)
            } else {
                Ok(Int64Chunked::full_null(name.into(), df.height()))
            }
        };
        let nulls_u16 = |name: &str| -> PolarsResult<Vec<Option<u16>>> {
            if df.column(name).is_ok() {
                u16s(df, name)
            } else {
                Ok(vec![None; df.height()])
            }
        };
        let ports = |name: &str| -> PolarsResult<Vec<Option<u16>>> {
            Ok(if df.column(name).is_ok() {
                u64s(df, name)?
                    .into_iter()
                    .map(|p| p.and_then(|p| u16::try_from(p).ok()))
                    .collect()
            } else {
                vec![None; df.height()]
            })
        };
        let mut c = Cols {
            capture: opt_str(df, "capture")?,
            session_id: opt_str(df, "session_id")?,
            client_ip: opt_str(df, "client_ip")?,
            server_ip: opt_str(df, "server_ip")?,
            server_port: ports("server_port")?,
            path: opt_str(df, "path")?,
            key: if df.column("websocket_key").is_ok() {
                hashes(df, "websocket_key")?
            } else {
                UInt64Chunked::full_null("websocket_key".into(), df.height())
            },
            ending: opt_str(df, "ending")?,
            tcp_end: opt_str(df, "tcp_end")?,
            start: nulls_i64("start_time")?,
            established: nulls_i64("established_time")?,
            end: nulls_i64("end_time")?,
            idle: f64_ca(df, "idle_before_end_s")?,
            duration: f64_ca(df, "duration_s")?,
            client_close: nulls_u16("client_close_code")?,
            server_close: nulls_u16("server_close_code")?,
            client_ip_h: Vec::new(),
            server_ip_h: Vec::new(),
            server_h: Vec::new(),
            capture_h: Vec::new(),
        };
        c.client_ip_h = c.client_ip.iter().map(|v| v.map(hash_of)).collect();
        c.capture_h = c.capture.iter().map(|v| v.map(hash_of)).collect();
        c.server_ip_h = c.server_ip.iter().map(|v| v.map(hash_of)).collect();
        c.server_h = (0..c.server_port.len())
            .map(|i| Some(hash_of((c.server_ip.get(i)?, c.server_port[i]?))))
            .collect();
        Ok(c)
    }

    fn addr(&self, ip: &StringChunked, port: &[Option<u16>], i: usize) -> Option<String> {
        let ip = ip.get(i)?;
        let port = port[i]?;
        Some(if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        })
    }

    fn server(&self, i: usize) -> Option<String> {
        self.addr(&self.server_ip, &self.server_port, i)
    }

    /// The handshake's span (start → 101), ns.
    fn span(&self, i: usize) -> Option<i64> {
        Some(self.established.get(i)? - self.start.get(i)?)
    }

    fn mid(&self, i: usize) -> Option<i64> {
        Some(self.start.get(i)? + (self.established.get(i)? - self.start.get(i)?) / 2)
    }

    /// Whether `a` and `b` can be the two legs of one hop, as (downstream, upstream):
    /// other servers (the same key to the same server is a replay or a reused key, not a
    /// proxy), and in one capture the upstream handshake inside the downstream's; across
    /// captures the upstream's handshake no longer than the downstream's.
    fn hop(&self, a: usize, b: usize) -> Option<(usize, usize)> {
        let (d, u) = self.order(a, b);
        let (sd, su) = (self.server_h[d]?, self.server_h[u]?);
        if sd == su {
            return None;
        }
        if self.capture_h[d] == self.capture_h[u] {
            if self.start.get(u)? < self.start.get(d)? {
                return None;
            }
            if let (Some(ed), Some(eu)) = (self.established.get(d), self.established.get(u)) {
                if eu > ed {
                    return None;
                }
            }
        } else if let (Some(x), Some(y)) = (self.span(d), self.span(u)) {
            if y > x {
                return None;
            }
        }
        Some((d, u))
    }

    /// Of two legs of one session, (downstream, upstream).
    fn order(&self, a: usize, b: usize) -> (usize, usize) {
        let same_capture = self.capture_h[a] == self.capture_h[b];
        let by_start = match (self.start.get(a), self.start.get(b)) {
            (Some(x), Some(y)) if x != y => Some(x < y),
            _ => None,
        };
        let by_span = match (self.span(a), self.span(b)) {
            (Some(x), Some(y)) if x != y => Some(x > y),
            _ => None,
        };
        // In one capture the downstream request comes first; across captures (clocks
        // may differ by seconds) only each leg's own span can be compared.
        let a_down = if same_capture {
            by_start.or(by_span).unwrap_or(true)
        } else {
            by_span.or(by_start).unwrap_or(true)
        };
        if a_down {
            (a, b)
        } else {
            (b, a)
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len();
    Some(if m % 2 == 1 {
        v[m / 2]
    } else {
        (v[m / 2 - 1] + v[m / 2]) / 2.0
    })
}

/// `FIN 2, RST 1` from the ends the proxy sent.
fn tally(ends: &[&str]) -> String {
    let mut m: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for &e in ends {
        *m.entry(e).or_insert(0) += 1;
    }
    let mut v: Vec<(&str, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    if v.len() == 1 {
        return v[0].0.to_string();
    }
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pair the legs of proxied sessions in a session table.
pub fn pair(df: &DataFrame) -> PolarsResult<Proxies> {
    let n = df.height();
    let c = Cols::read(df)?;
    let mut partner: Vec<Option<(usize, Confidence)>> = vec![None; n];
    let mut is_down = vec![false; n];

    // 1. The same Sec-WebSocket-Key on two rows (more: a chain of proxies, outermost first).
    // Rows grouped by key with one sort, not a map: keys are unique but for the legs
    // of proxied sessions, and a map of 350,000 keys (with a vector each) was ~30 MiB.
    // Groups are disjoint, so the order they are visited in changes nothing.
    let mut keyed: Vec<u32> = (0..n as u32)
        .filter(|&i| c.key.get(i as usize).is_some_and(|k| k != 0))
        .collect();
    keyed.sort_unstable_by_key(|&a| (c.key.get(a as usize), a));
    let same_key = |a: &u32, b: &u32| c.key.get(*a as usize) == c.key.get(*b as usize);
    // A key seen on many rows is a client (or a replay) reusing it, not a proxy: only
    // legs that can be the two ends of one hop pair ([`Cols::hop`]), nearest start first.
    for group in keyed.chunk_by(same_key).filter(|r| r.len() >= 2) {
        // (In table order, as the map's vectors were, before the stable sort.)
        let mut rows: Vec<usize> = group.iter().map(|&i| i as usize).collect();
        rows.sort_by_key(|&i| (c.start.get(i), std::cmp::Reverse(c.span(i))));
        for x in 0..rows.len() {
            let a = rows[x];
            if partner[a].is_some() {
                continue;
            }
            let mut best: Option<(i64, usize)> = None;
            // both ways from x, while the starts are within the window
            let near = |y: &usize| {
                let b = rows[*y];
                match (c.start.get(a), c.start.get(b)) {
                    (Some(sa), Some(sb)) => ((sb - sa).abs() as f64) <= KEY_WINDOW_S * 1e9,
                    _ => false,
                }
            };
            // A key seen thousands of times (a client library with a fixed key, or
            // replayed traffic) would make this quadratic: the legs of one session start
            // within milliseconds of each other, so the nearest few starts each way do.
            let after = (x + 1..rows.len())
                .take_while(|y| near(y))
                .take(KEY_CANDIDATES);
            let before = (0..x).rev().take_while(|y| near(y)).take(KEY_CANDIDATES);
            for y in after.chain(before) {
                let b = rows[y];
                if partner[b].is_some() {
                    continue;
                }
                let Some((d, u)) = c.hop(a, b) else {
                    continue;
                };
                let dt = (c.start.get(u).unwrap_or(0) - c.start.get(d).unwrap_or(0)).abs();
                if best.is_none_or(|(bd, _)| dt < bd) {
                    best = Some((dt, b));
                }
            }
            if let Some((_, b)) = best {
                if let Some((d, u)) = c.hop(a, b) {
                    partner[d] = Some((u, Confidence::Key));
                    partner[u] = Some((d, Confidence::Key));
                    is_down[d] = true;
                }
            }
        }
    }
    drop(keyed);

    // 2. Fallback: path, the proxy's address, timing.
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in partner.iter().enumerate() {
        if p.is_none() {
            if let (Some(p), Some(_)) = (c.path.get(i), c.start.get(i)) {
                by_path.entry(p).or_default().push(i);
            }
        }
    }
    for rows in by_path.values_mut().filter(|r| r.len() >= 2) {
        rows.sort_by_key(|&i| c.start.get(i));
        for (x, &d) in rows.iter().enumerate() {
            if partner[d].is_some() {
                continue;
            }
            let (Some(d_srv_ip), Some(d_srv)) = (c.server_ip_h[d], c.server_h[d]) else {
                continue;
            };
            let mut best: Option<(i64, usize)> = None;
            // a busy path has thousands of sessions within the window: the nearest
            // FALLBACK_CANDIDATES starts are enough (the upstream leg starts within
            // milliseconds of its downstream request)
            for &u in rows.iter().skip(x + 1).take(FALLBACK_CANDIDATES) {
                let dt = c.start.get(u).unwrap_or(i64::MAX) - c.start.get(d).unwrap_or(0);
                if dt as f64 > FALLBACK_WINDOW_S * 1e9 {
                    break;
                }
                if partner[u].is_some()
                    || c.client_ip_h[u] != Some(d_srv_ip)
                    || c.server_h[u] == Some(d_srv)
                {
                    continue;
                }
                let nested = match (c.established.get(d), c.established.get(u)) {
                    (Some(de), Some(ue)) => ue <= de,
                    _ => true,
                };
                let same_capture = c.capture_h[d] == c.capture_h[u];
                if same_capture && !nested {
                    continue;
                }
                if best.is_none_or(|(b, _)| dt < b) {
                    best = Some((dt, u));
                }
            }
            if let Some((_, u)) = best {
                partner[d] = Some((u, Confidence::PathTime));
                partner[u] = Some((d, Confidence::PathTime));
                is_down[d] = true;
            }
        }
    }

    // 3. Clock skew per (downstream capture, upstream capture).
    let mut skew_samples: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for d in 0..n {
        let Some((u, _)) = partner[d].filter(|_| is_down[d]) else {
            continue;
        };
        let (cd, cu) = (c.capture.get(d), c.capture.get(u));
        if cd == cu {
            continue;
        }
        if let (Some(md), Some(mu)) = (c.mid(d), c.mid(u)) {
            skew_samples
                .entry((cd.unwrap_or("").to_string(), cu.unwrap_or("").to_string()))
                .or_default()
                .push((mu - md) as f64 / 1e9);
        }
    }
    let mut skews: Vec<Skew> = skew_samples
        .into_iter()
        .map(|((dc, uc), v)| Skew {
            downstream_capture: dc,
            upstream_capture: uc,
            pairs: v.len() as u64,
            skew_s: median(v).unwrap_or(0.0),
        })
        .collect();
    skews.sort_by(|a, b| {
        (&a.downstream_capture, &a.upstream_capture)
            .cmp(&(&b.downstream_capture, &b.upstream_capture))
    });
    let skew_of = |d: usize, u: usize| -> i64 {
        let (cd, cu) = (
            c.capture.get(d).unwrap_or(""),
            c.capture.get(u).unwrap_or(""),
        );
        skews
            .iter()
            .find(|s| s.downstream_capture == cd && s.upstream_capture == cu)
            .map_or(0, |s| (s.skew_s * 1e9) as i64)
    };

    // 4. Per pair.
    let mut pairs = Vec::new();
    // One entry per row, only when something was paired (~22 MiB on 350,000 sessions).
    let rows_if_paired = || {
        if (0..n).any(|d| is_down[d] && partner[d].is_some()) {
            n
        } else {
            0
        }
    };
    let mut leg: Vec<Option<&'static str>> = vec![None; rows_if_paired()];
    let mut paired_session_id: Vec<Option<String>> = vec![None; rows_if_paired()];
    let mut proxy_of_row: Vec<Option<String>> = vec![None; rows_if_paired()];
    for d in 0..n {
        let Some((u, confidence)) = partner[d].filter(|_| is_down[d]) else {
            continue;
        };
        let proxy = c.server(d).unwrap_or_else(|| "unknown".into());
        leg[d] = Some("downstream");
        leg[u] = Some("upstream");
        paired_session_id[d] = c.session_id.get(u).map(str::to_string);
        paired_session_id[u] = c.session_id.get(d).map(str::to_string);
        proxy_of_row[d] = Some(proxy.clone());
        proxy_of_row[u] = Some(proxy.clone());
        let first_leg_ended = match (c.end.get(d), c.end.get(u)) {
            (Some(de), Some(ue))
                if c.ending.get(d) != Some("open") && c.ending.get(u) != Some("open") =>
            {
                let ue = ue - skew_of(d, u);
                Some(if (de - ue).abs() <= 1_000_000 {
                    "both".to_string()
                } else if de < ue {
                    "downstream".to_string()
                } else {
                    "upstream".to_string()
                })
            }
            _ => None,
        };
        let client_received = c.server_close[d];
        let server_sent = c.server_close[u];
        let client_sent = c.client_close[d];
        let server_received = c.client_close[u];
        let code_rewritten = client_received != server_sent || client_sent != server_received;
        let proxy_close_to = if client_received.is_some() && server_sent.is_none() {
            Some("client".to_string())
        } else if server_received.is_some() && client_sent.is_none() {
            Some("server".to_string())
        } else {
            None
        };
        let forbidden_code_on_wire = [client_received, server_sent, client_sent, server_received]
            .iter()
            .any(|x| matches!(x, Some(1006) | Some(1015)));
        let down_end = c.tcp_end.get(d);
        let up_end = c.tcp_end.get(u);
        let proxy_cut = c.ending.get(d) == Some("abnormal")
            && c.ending.get(u) == Some("abnormal")
            && down_end.is_some_and(|e| e.starts_with("server_"))
            && up_end.is_some_and(|e| e.starts_with("client_"));
        let idle_s = match (c.idle.get(d), c.idle.get(u)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        pairs.push(Pair {
            proxy,
            downstream_capture: c.capture.get(d).unwrap_or("").to_string(),
            downstream_session_id: c.session_id.get(d).unwrap_or("").to_string(),
            upstream_capture: c.capture.get(u).unwrap_or("").to_string(),
            upstream_session_id: c.session_id.get(u).unwrap_or("").to_string(),
            confidence,
            first_leg_ended,
            downstream_tcp_end: down_end.map(str::to_string),
            upstream_tcp_end: up_end.map(str::to_string),
            client_received_code: client_received,
            server_sent_code: server_sent,
            client_sent_code: client_sent,
            server_received_code: server_received,
            code_rewritten,
            proxy_close_to,
            forbidden_code_on_wire,
            proxy_cut,
            idle_s,
            duration_s: c.duration.get(d),
        });
    }

    // 5. Per proxy, and the cuts.
    let mut rows: std::collections::BTreeMap<String, ProxyRow> = Default::default();
    let mut cut_groups: std::collections::BTreeMap<(String, &'static str), Vec<&Pair>> =
        Default::default();
    for p in &pairs {
        let r = rows.entry(p.proxy.clone()).or_insert_with(|| ProxyRow {
            proxy: p.proxy.clone(),
            ..Default::default()
        });
        r.sessions += 1;
        r.codes_rewritten += p.code_rewritten as u64;
        r.proxy_closes += p.proxy_close_to.is_some() as u64;
        if p.proxy_cut {
            let kind = if p.idle_s.is_some_and(|v| v >= IDLE_CUT_MIN_S) {
                r.cuts_idle += 1;
                "idle"
            } else {
                r.cuts_active += 1;
                "active"
            };
            cut_groups
                .entry((p.proxy.clone(), kind))
                .or_default()
                .push(p);
        }
    }
    let end_word = |e: Option<&str>| -> &'static str {
        match e {
            Some(e) if e.ends_with("_rst") => "RST",
            Some(e) if e.ends_with("_fin") => "FIN",
            _ => "nothing",
        }
    };
    let mut cuts: Vec<Cut> = cut_groups
        .into_iter()
        .map(|((proxy, kind), ps)| Cut {
            proxy,
            kind: kind.to_string(),
            sessions: ps.len() as u64,
            idle_s: median(ps.iter().filter_map(|p| p.idle_s).collect()).unwrap_or(0.0),
            duration_s: median(ps.iter().filter_map(|p| p.duration_s).collect()).unwrap_or(0.0),
            to_client: tally(
                &ps.iter()
                    .map(|p| end_word(p.downstream_tcp_end.as_deref()))
                    .collect::<Vec<_>>(),
            ),
            to_server: tally(
                &ps.iter()
                    .map(|p| end_word(p.upstream_tcp_end.as_deref()))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    // largest first; idle cuts (a timeout to name) before active ones
    cuts.sort_by(|a, b| {
        b.sessions
            .cmp(&a.sessions)
            .then(a.proxy.cmp(&b.proxy))
            .then((a.kind != "idle").cmp(&(b.kind != "idle")))
    });

    // Legs left alone in captures where pairs were found.
    let paired = |i: usize| leg.get(i).is_some_and(Option::is_some);
    let paired_captures: std::collections::HashSet<&str> = (0..n)
        .filter(|&i| paired(i))
        .filter_map(|i| c.capture.get(i))
        .collect();
    let unpaired_legs = (0..n)
        .filter(|&i| {
            !paired(i)
                && c.key.get(i).is_some()
                && c.capture
                    .get(i)
                    .is_some_and(|x| paired_captures.contains(x))
                && c.ending.get(i) != Some("undecrypted")
        })
        .count() as u64;
    Ok(Proxies {
        paired_sessions: pairs.len() as u64,
        pairs,
        proxies: rows.into_values().collect(),
        cuts,
        skews,
        unpaired_legs,
        leg,
        paired_session_id,
        proxy_of_row,
    })
}

/// The session table with the `leg`, `paired_session_id` and `proxy` columns added
/// (all null when nothing was paired: then columns of one null value, not a value per
/// row).
pub fn with_leg_columns(mut df: DataFrame, p: &Proxies) -> PolarsResult<DataFrame> {
    let n = df.height();
    let column = |name: &str, v: Option<Vec<Option<String>>>| match v {
        Some(v) => Column::new(name.into(), v),
        None => Column::full_null(name.into(), n, &DataType::String),
    };
    let some = |len: usize, any: bool| len == n && any;
    let leg = some(p.leg.len(), p.leg.iter().any(Option::is_some))
        .then(|| p.leg.iter().map(|l| l.map(str::to_string)).collect());
    let pid = some(
        p.paired_session_id.len(),
        p.paired_session_id.iter().any(Option::is_some),
    )
    .then(|| p.paired_session_id.clone());
    let proxy = some(
        p.proxy_of_row.len(),
        p.proxy_of_row.iter().any(Option::is_some),
    )
    .then(|| p.proxy_of_row.clone());
    df.with_column(column("leg", leg))?;
    df.with_column(column("paired_session_id", pid))?;
    df.with_column(column("proxy", proxy))?;
    Ok(df)
}

/// The pairs as a table (`--proxies PATH`): one row per paired session.
pub fn pairs_frame(p: &Proxies) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&Pair) -> Option<String>| -> Column {
        Column::new("".into(), p.pairs.iter().map(f).collect::<Vec<_>>())
    };
    let named = |c: Column, name: &str| c.with_name(name.into());
    let u16c = |name: &str, f: &dyn Fn(&Pair) -> Option<u16>| {
        Column::new(name.into(), p.pairs.iter().map(f).collect::<Vec<_>>())
    };
    let cols = vec![
        named(s(&|x| Some(x.proxy.clone())), "proxy"),
        named(
            s(&|x| Some(x.downstream_capture.clone())),
            "downstream_capture",
        ),
        named(
            s(&|x| Some(x.downstream_session_id.clone())),
            "downstream_session_id",
        ),
        named(s(&|x| Some(x.upstream_capture.clone())), "upstream_capture"),
        named(
            s(&|x| Some(x.upstream_session_id.clone())),
            "upstream_session_id",
        ),
        named(
            s(&|x| {
                Some(
                    match x.confidence {
                        Confidence::Key => "key",
                        Confidence::PathTime => "path_time",
                    }
                    .to_string(),
                )
            }),
            "confidence",
        ),
        named(s(&|x| x.first_leg_ended.clone()), "first_leg_ended"),
        named(s(&|x| x.downstream_tcp_end.clone()), "downstream_tcp_end"),
        named(s(&|x| x.upstream_tcp_end.clone()), "upstream_tcp_end"),
        u16c("client_sent_code", &|x| x.client_sent_code),
        u16c("server_received_code", &|x| x.server_received_code),
        u16c("server_sent_code", &|x| x.server_sent_code),
        u16c("client_received_code", &|x| x.client_received_code),
        Column::new(
            "code_rewritten".into(),
            p.pairs.iter().map(|x| x.code_rewritten).collect::<Vec<_>>(),
        ),
        named(s(&|x| x.proxy_close_to.clone()), "proxy_close_to"),
        Column::new(
            "forbidden_code_on_wire".into(),
            p.pairs
                .iter()
                .map(|x| x.forbidden_code_on_wire)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "proxy_cut".into(),
            p.pairs.iter().map(|x| x.proxy_cut).collect::<Vec<_>>(),
        ),
        Column::new(
            "idle_s".into(),
            p.pairs.iter().map(|x| x.idle_s).collect::<Vec<_>>(),
        ),
        Column::new(
            "duration_s".into(),
            p.pairs.iter().map(|x| x.duration_s).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(p.pairs.len(), cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (session_id, client_ip, client_port, server_ip, server_port, start, established,
    /// path, key)
    type Row<'a> = (
        &'a str,
        &'a str,
        u16,
        &'a str,
        u16,
        i64,
        i64,
        &'a str,
        Option<&'a str>,
    );

    fn table(rows: &[Row]) -> DataFrame {
        // (session_id, client_ip, client_port, server_ip, server_port, start, established, path, key)
        let n = rows.len();
        df!(
            "capture" => vec!["c"; n],
            "session_id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "client_ip" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "client_port" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "server_ip" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "server_port" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "start_time" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            "established_time" => rows.iter().map(|r| r.6).collect::<Vec<_>>(),
            "end_time" => rows.iter().map(|r| r.6 + 1_000_000_000).collect::<Vec<_>>(),
            "path" => rows.iter().map(|r| r.7).collect::<Vec<_>>(),
            "websocket_key" => rows.iter().map(|r| r.8).collect::<Vec<_>>(),
            "ending" => vec!["normal"; n],
            "tcp_end" => vec!["server_fin"; n],
            "idle_before_end_s" => vec![0.1f64; n],
            "duration_s" => vec![1.0f64; n],
            "client_close_code" => vec![1000u16; n],
            "server_close_code" => vec![1000u16; n],
        )
        .unwrap()
    }

    #[test]
    fn a_proxy_that_makes_its_own_key_is_paired_by_path_and_timing() {
        // The downstream handshake (10.0.0.1 -> 10.0.0.5:443) encloses the upstream one
        // (10.0.0.5 -> 10.0.0.9:8080); keys differ; an unrelated session on the same
        // path to another server from another client is left alone.
        let ms = 1_000_000i64;
        let df = table(&[
            (
                "d",
                "10.0.0.1",
                5000,
                "10.0.0.5",
                443,
                0,
                10 * ms,
                "/ws",
                Some("a"),
            ),
            (
                "u",
                "10.0.0.5",
                6000,
                "10.0.0.9",
                8080,
                2 * ms,
                8 * ms,
                "/ws",
                Some("b"),
            ),
            // starts before the upstream leg, nested too: only the addresses tell
            (
                "x",
                "10.0.0.7",
                7000,
                "10.0.0.8",
                80,
                ms,
                9 * ms,
                "/ws",
                Some("c"),
            ),
        ]);
        let p = pair(&df).unwrap();
        assert_eq!(p.pairs.len(), 1);
        let x = &p.pairs[0];
        assert_eq!(
            (
                x.downstream_session_id.as_str(),
                x.upstream_session_id.as_str()
            ),
            ("d", "u")
        );
        assert_eq!(x.confidence, Confidence::PathTime);
        assert_eq!(x.proxy, "10.0.0.5:443");
        assert_eq!(p.leg, vec![Some("downstream"), Some("upstream"), None]);
        assert_eq!(p.paired_session_id[0].as_deref(), Some("u"));
    }

    #[test]
    fn a_key_reused_towards_the_same_server_pairs_nothing() {
        // Two clients replaying one handshake (same key) to one server, the second
        // nested in the first: not a proxy.
        let ms = 1_000_000i64;
        let df = table(&[
            (
                "a",
                "10.0.0.1",
                5000,
                "10.0.0.9",
                80,
                0,
                10 * ms,
                "/ws",
                Some("k"),
            ),
            (
                "b",
                "10.0.0.2",
                5001,
                "10.0.0.9",
                80,
                2 * ms,
                8 * ms,
                "/ws",
                Some("k"),
            ),
        ]);
        assert!(pair(&df).unwrap().pairs.is_empty());
    }

    #[test]
    fn the_same_key_pairs_whatever_the_row_order() {
        let ms = 1_000_000i64;
        let df = table(&[
            (
                "u",
                "10.0.0.5",
                6000,
                "10.0.0.9",
                8080,
                2 * ms,
                8 * ms,
                "/ws",
                Some("k"),
            ),
            (
                "d",
                "10.0.0.1",
                5000,
                "10.0.0.5",
                443,
                0,
                10 * ms,
                "/ws",
                Some("k"),
            ),
        ]);
        let p = pair(&df).unwrap();
        assert_eq!(p.pairs.len(), 1);
        assert_eq!(p.pairs[0].downstream_session_id, "d");
        assert_eq!(p.pairs[0].confidence, Confidence::Key);
    }
}
