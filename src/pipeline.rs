//! Wiring: one capture in, its sessions and refused upgrades out.
//!
//! Contract: [`analyze`] runs every stage over one input and always returns a
//! [`CaptureResult`], even when the file is unreadable or corrupt part-way: what was read
//! before the problem is kept and the problem is in `errors`. [`analyze_all`] runs
//! several inputs in parallel (rayon) and returns results in input order, so output is
//! deterministic. Sessions get ids `<capture>#<n>`, numbered by start time.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::capture::{self, link, CaptureError, ReadSummary};
use crate::session::tracker::{ConnOutput, Tracker};
use crate::session::{RefusedUpgrade, SessionRecord};
use crate::tcp::{ConnTable, Limits};

/// Where a capture comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl Input {
    pub fn parse(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// The name used in the `capture` column and in messages.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }
}

/// Knobs of one analysis run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub limits: Limits,
}

/// Everything one capture produced.
#[derive(Debug, Default)]
pub struct CaptureResult {
    pub name: String,
    pub read: ReadSummary,
    /// I/O failure opening or reading the input (not a format problem).
    pub io_error: Option<String>,
    pub sessions: Vec<SessionRecord>,
    pub refused: Vec<RefusedUpgrade>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub tcp_segments: u64,
    /// Connections dropped because the table was full.
    pub evicted: u64,
}

impl CaptureResult {
    pub fn failed(&self) -> bool {
        self.io_error.is_some() || self.read.failed()
    }

    /// Every problem, as `what at byte N` lines (without the file name).
    pub fn problems(&self) -> Vec<String> {
        let mut v: Vec<String> = self.io_error.iter().cloned().collect();
        v.extend(self.read.errors.iter().map(CaptureError::to_string));
        v
    }
}

/// Analyse one capture.
pub fn analyze(input: &Input, opts: &Options) -> CaptureResult {
    let name = input.name();
    let cap: Arc<str> = Arc::from(name.as_str());
    let mut outputs: Vec<ConnOutput> = Vec::new();
    let mut first_ts: Option<i64> = None;
    let mut last_ts: Option<i64> = None;
    let mut segments = 0u64;
    let mut table = ConnTable::new(opts.limits, |_, _| Tracker::new(cap.clone()));
    let read = {
        let mut on_packet = |pkt: &capture::RawPacket<'_>| {
            first_ts = Some(first_ts.map_or(pkt.ts_ns, |t| t.min(pkt.ts_ns)));
            last_ts = Some(last_ts.map_or(pkt.ts_ns, |t| t.max(pkt.ts_ns)));
            if let Some(seg) = link::decode(pkt.linktype, pkt.data) {
                segments += 1;
                table.segment(&seg, pkt.ts_ns, &mut |meta, tracker: Tracker| {
                    outputs.push(tracker.finish(&meta));
                });
            }
        };
        match input {
            Input::Path(p) => capture::read_path(p, &mut on_packet),
            Input::Stdin => capture::read_any_stream(io::stdin().lock(), &mut on_packet),
        }
    };
    let evicted = table.finish(&mut |meta, tracker: Tracker| outputs.push(tracker.finish(&meta)));
    let (read, io_error) = match read {
        Ok(r) => (r, None),
        Err(e) => (ReadSummary::default(), Some(format!("cannot read: {e}"))),
    };
    let mut sessions: Vec<SessionRecord> = Vec::new();
    let mut refused: Vec<RefusedUpgrade> = Vec::new();
    for o in outputs {
        sessions.extend(o.session);
        refused.extend(o.refused);
    }
    sessions.sort_by(|a, b| {
        (a.start_time, a.client, a.server).cmp(&(b.start_time, b.client, b.server))
    });
    for (i, s) in sessions.iter_mut().enumerate() {
        s.session_id = format!("{name}#{}", i + 1);
    }
    refused.sort_by_key(|r| (r.time, r.client));
    CaptureResult {
        name,
        read,
        io_error,
        sessions,
        refused,
        first_ts,
        last_ts,
        tcp_segments: segments,
        evicted,
    }
}

/// Analyse several captures in parallel; results come back in input order.
pub fn analyze_all(inputs: &[Input], opts: &Options) -> Vec<CaptureResult> {
    inputs.par_iter().map(|i| analyze(i, opts)).collect()
}
