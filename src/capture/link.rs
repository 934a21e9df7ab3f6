//! Link layer, IP and TCP headers: a captured packet in, a TCP segment out.
//!
//! Contract: [`decode`] accepts any bytes and either returns the TCP segment they carry
//! or `None` (not TCP, not IP, unknown link type, headers cut by the snaplen). It never
//! reads past the captured bytes; when the snaplen cut the TCP payload, the segment says
//! how many payload bytes are missing so the reassembler can record a gap of exactly that
//! size. Link types: Ethernet (802.1Q/QinQ VLAN tags), Linux SLL and SLL2, raw IPv4/IPv6,
//! BSD NULL/LOOP. IPv6 extension headers are walked by etherparse.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::Linktype;

/// TCP flags wsaudit looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment as seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    /// The captured part of the payload.
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire but not captured (snaplen).
    pub missing: u32,
}

/// Decode a captured packet of the given link type down to TCP.
#[inline]
pub fn decode(linktype: Linktype, data: &[u8]) -> Option<Segment<'_>> {
    let ipv4_at = match linktype {
        Linktype::ETHERNET if data.get(12..14) == Some(&[0x08, 0x00]) => 14,
        Linktype::LINUX_SLL if data.get(14..16) == Some(&[0x08, 0x00]) => 16,
        Linktype::LINUX_SLL2 if data.get(0..2) == Some(&[0x08, 0x00]) => 20,
        Linktype::RAW | Linktype::IPV4 | Linktype(12) | Linktype(14) => 0,
        _ => usize::MAX,
    };
    if let Some(seg) = data.get(ipv4_at..).and_then(plain_ipv4_tcp) {
        return Some(seg);
    }
    decode_with_etherparse(linktype, data)
}

/// The fast path for the packets that make up nearly every capture: an unfragmented
/// IPv4 packet with a whole IPv4 and TCP header. Anything else (IPv6, VLAN tags,
/// fragments, cut or odd headers) is `None` here and goes to etherparse, whose slicing
/// structures are big enough that copying them was a fifth of the reading thread's
/// time. Gives exactly what [`decode_with_etherparse`] gives for the packets it takes
/// (checked on every fixture packet and on mutations of them).
#[inline]
fn plain_ipv4_tcp(ip: &[u8]) -> Option<Segment<'_>> {
    // Big-endian fields of a header whose length was checked first.
    let be16 = |s: &[u8], i: usize| u16::from_be_bytes([s[i], s[i + 1]]);
    let be32 = |s: &[u8], i: usize| u32::from_be_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < 20 || ip.len() < ihl || ip[9] != 6 {
        return None;
    }
    let total = usize::from(be16(ip, 2));
    if total < ihl || be16(ip, 6) & 0x3fff != 0 {
        return None; // odd length or a fragment (MF flag or an offset): etherparse
    }
    let incomplete = total > ip.len();
    let tcp = &ip[ihl..total.min(ip.len())];
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    if doff < 20 || tcp.len() < doff {
        return None;
    }
    let payload = &tcp[doff..];
    let missing = if incomplete {
        (total - ihl)
            .saturating_sub(doff)
            .saturating_sub(payload.len()) as u32
    } else {
        0
    };
    let f = tcp[13];
    Some(Segment {
        src: SocketAddr::new(IpAddr::V4(be32(ip, 12).into()), be16(tcp, 0)),
        dst: SocketAddr::new(IpAddr::V4(be32(ip, 16).into()), be16(tcp, 2)),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags: Flags {
            syn: f & 0x02 != 0,
            ack: f & 0x10 != 0,
            fin: f & 0x01 != 0,
            rst: f & 0x04 != 0,
        },
        payload,
        missing,
    })
}

/// Every link type and IP version, through etherparse.
fn decode_with_etherparse(linktype: Linktype, data: &[u8]) -> Option<Segment<'_>> {
    let sliced = match linktype {
        Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        Linktype::LINUX_SLL => {
            // 16-byte header, protocol (EtherType) at bytes 14-15. etherparse's own SLL
            // reader rejects loopback packets (ARPHRD 772), so slice by hand.
            let et = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), data.get(16..)?)
        }
        Linktype::LINUX_SLL2 => {
            // 20-byte header, protocol at bytes 0-1.
            let et = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), data.get(20..)?)
        }
        Linktype::NULL | Linktype::LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok()?,
        // Some systems write raw IP as DLT 12 or 14.
        Linktype(12) | Linktype(14) => LaxSlicedPacket::from_ip(data).ok()?,
        _ => return None,
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
        LaxNetSlice::Arp(_) => return None,
    };
    let ip_payload = sliced.ip_payload()?;
    if ip_payload.fragmented {
        // IP fragments are not reassembled; TCP over fragmented IP is vanishingly rare.
        return None;
    }
    let TransportSlice::Tcp(tcp) = sliced.transport.as_ref()? else {
        return None;
    };
    let payload = tcp.payload();
    // The IP header says how long the payload really was; what is missing was cut.
    let missing = if ip_payload.incomplete {
        let claimed_ip_payload = match sliced.net.as_ref()? {
            LaxNetSlice::Ipv4(v4) => {
                let h = v4.header();
                (h.total_len() as usize).saturating_sub(h.ihl() as usize * 4)
            }
            LaxNetSlice::Ipv6(v6) => {
                // Payload length counts extension headers too; subtract what lies before
                // the transport header.
                let ext_len = ip_payload_offset(v6, ip_payload.payload);
                (v6.header().payload_length() as usize).saturating_sub(ext_len)
            }
            LaxNetSlice::Arp(_) => return None,
        };
        let tcp_claimed = claimed_ip_payload.saturating_sub(tcp.header_len());
        tcp_claimed.saturating_sub(payload.len()) as u32
    } else {
        0
    };
    Some(Segment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: Flags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload,
        missing,
    })
}

/// Bytes of IPv6 extension headers between the fixed header and `payload`.
fn ip_payload_offset(v6: &etherparse::LaxIpv6Slice<'_>, payload: &[u8]) -> usize {
    let hdr = v6.header().slice();
    let base = hdr.as_ptr() as usize + hdr.len();
    (payload.as_ptr() as usize).saturating_sub(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_header(sport: u16, dport: u16, seq: u32, flags: u8) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend(sport.to_be_bytes());
        t.extend(dport.to_be_bytes());
        t.extend(seq.to_be_bytes());
        t.extend(7u32.to_be_bytes()); // ack
        t.push(5 << 4); // data offset 5 words
        t.push(flags);
        t.extend([0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
        t
    }

    fn ipv4(payload_len: usize) -> Vec<u8> {
        let total = (20 + payload_len) as u16;
        let mut h = vec![0x45, 0];
        h.extend(total.to_be_bytes());
        h.extend([0, 0, 0x40, 0, 64, 6, 0, 0]);
        h.extend([10, 0, 0, 1, 10, 0, 0, 2]);
        h
    }

    #[test]
    fn snaplen_cut_ipv4_segment_reports_the_missing_payload() {
        let mut pkt = ipv4(20 + 100);
        pkt.extend(tcp_header(40000, 80, 1000, 0x18));
        pkt.extend(vec![b'x'; 100]);
        let cut = &pkt[..20 + 20 + 30];
        let seg = decode(Linktype::RAW, cut).unwrap();
        assert_eq!(seg.payload.len(), 30);
        assert_eq!(seg.missing, 70);
        assert_eq!(seg.src, "10.0.0.1:40000".parse().unwrap());
        assert!(seg.flags.ack && !seg.flags.syn);
    }

    #[test]
    fn ipv6_with_a_hop_by_hop_header_reaches_tcp_and_counts_what_was_cut() {
        let tcp_len = 20 + 50;
        let mut pkt = vec![0x60, 0, 0, 0];
        pkt.extend(((8 + tcp_len) as u16).to_be_bytes());
        pkt.push(0); // next header: hop-by-hop options
        pkt.push(64);
        pkt.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0u8; 11].iter())
                .chain([1u8].iter()),
        );
        pkt.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0u8; 11].iter())
                .chain([2u8].iter()),
        );
        pkt.extend([6, 0, 1, 4, 0, 0, 0, 0]); // HBH: next TCP, len 0, PadN
        pkt.extend(tcp_header(443, 50000, 5, 0x11));
        pkt.extend(vec![b'y'; 50]);
        let full = decode(Linktype::IPV6, &pkt).unwrap();
        assert_eq!(full.payload.len(), 50);
        assert_eq!(full.missing, 0);
        assert!(full.flags.fin);
        assert_eq!(full.src, "[2001:db8::1]:443".parse().unwrap());
        let cut = decode(Linktype::IPV6, &pkt[..pkt.len() - 20]).unwrap();
        assert_eq!((cut.payload.len(), cut.missing), (30, 20));
    }

    /// The IPv4 fast path agrees with etherparse on every packet of every fixture, and
    /// on thousands of truncated and bit-flipped copies of them.
    #[test]
    fn fast_ipv4_path_decodes_exactly_as_etherparse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut packets: Vec<(Linktype, Vec<u8>)> = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let n = p.to_string_lossy().to_string();
            if n.ends_with(".pcap") || n.ends_with(".pcapng") {
                let _ = crate::capture::read_path(&p, |pkt| {
                    packets.push((pkt.linktype, pkt.data.to_vec()))
                });
            }
        }
        assert!(packets.len() > 1000);
        let mut fast = 0;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (lt, data) in &packets {
            let mut variants = vec![data.clone()];
            for _ in 0..3 {
                let mut m = data.clone();
                let i = (rnd() as usize) % m.len().max(1);
                if let Some(x) = m.get_mut(i.min(60)) {
                    *x ^= 1 << (rnd() % 8);
                }
                variants.push(m);
                let cut = (rnd() as usize) % (data.len() + 1);
                variants.push(data[..cut].to_vec());
            }
            for v in &variants {
                let want = decode_with_etherparse(*lt, v);
                let got = decode(*lt, v);
                assert_eq!(got, want, "{lt:?} {v:02x?}");
                let at = match *lt {
                    Linktype::ETHERNET => 14,
                    Linktype::LINUX_SLL => 16,
                    Linktype::LINUX_SLL2 => 20,
                    _ => 0,
                };
                fast += usize::from(v.get(at..).and_then(plain_ipv4_tcp).is_some());
            }
        }
        assert!(
            fast > packets.len() / 2,
            "the fast path took {fast} packets"
        );
    }

    #[test]
    fn non_tcp_and_garbage_give_nothing() {
        let mut udp = ipv4(8);
        udp[9] = 17;
        udp.extend([0u8; 8]);
        assert!(decode(Linktype::RAW, &udp).is_none());
        assert!(decode(Linktype::ETHERNET, &[0xff; 10]).is_none());
        assert!(decode(Linktype::LINUX_SLL2, &[0x08, 0x00]).is_none());
        assert!(decode(Linktype(147), &udp).is_none());
    }
}
