//! One close, one row: merging a library's line and the application's line about the same
//! close.
//!
//! Many applications log the close their WebSocket library reported, while the library
//! logs it too (tungstenite's `Received close frame: ...` debug line next to the app's
//! `got: Close(Some(CloseFrame { .. }))`; Spring's `LoggingWebSocketHandlerDecorator`
//! `... closed with CloseStatus[...]` next to the handler's own line). Counted as they
//! come, one session would be two rows.
//!
//! The rule ([`merge`], per file, records in line order): a record in the library's voice
//! ([`Voice::Library`]) is merged into a record in the application's voice
//! ([`Voice::App`]) when all of these hold:
//!
//! 1. same format (`source`), or the application's record read through a `--pattern`
//!    (the application's own line about the close a library line reports); same close
//!    code, same close reason (none = none);
//! 2. at most [`MERGE_LINES`] lines apart, counted in [`Record::pos`]: the lines that
//!    access logs and JSON lines recognised as not closes (HTTP requests, written at the
//!    rate of requests by another layer of the server) are not counted, so a busy
//!    server's access lines between a library's line and the application's do not split
//!    one close into two rows;
//! 3. when both lines carry a time: at most [`MERGE_NS`] apart;
//! 4. when both name a connection id (`session_id` taken from the line, such as Spring's
//!    `WebSocketSession[id=..]`): the same id; when both name the logging side: the same
//!    side; when both name a client address or a server address: the same address.
//!
//! Each application record takes at most one library record: the nearest eligible one
//! before it, else the nearest after it; a library record is used once. Two application
//! records are never merged with each other, nor two library records: two sessions that
//! end with the same code on neighbouring lines (a server and a client in one log, a
//! burst of 1001s at a deploy) stay separate rows. The merged row is the application's
//! record, with the fields it lacks filled from the library's (a time, a session id).
//! A library record with no application partner stays a row of its own.
//!
//! Callbacks that run once per session: Jetty 9 logs `callApplicationOnClose(CloseInfo)`
//! before its `onCloseCalled` guard, so after the close the application received, the
//! same thread logs the callback again for the disconnect (`CloseInfo[code=1006,
//! reason=Disconnected]`), which the application never sees. [`repeats`] runs first: a
//! library record that carries its thread is dropped when an earlier kept record of the
//! same format and thread is at most [`MERGE_LINES`] lines before it (the first
//! callback is the one the application got). A repeat can also come from the thread that
//! asked the session to close: Jetty's client, after `main` logged `close(CloseInfo[X])`
//! and the session's callback with X ran on a client thread, calls back once more on
//! `main` (`CloseInfo[code=1006,reason=ClosedChannelException]`, after an error on the
//! closed channel). So a thread that logged a close request ([`CloseRequest`]) whose close
//! X was then handed to an application (a kept record with X's code and reason after the
//! request) is that session's thread: its callbacks within [`MERGE_LINES`] lines of the
//! request are repeats too. A request not yet followed by its callback makes nothing a
//! repeat (Jetty's server, closing inside `onWebSocketConnect`, hands its own application
//! 1006 "Failed to open local endpoint" first: a row). Limits: these lines carry no
//! session id, so a pooled thread closing another session within those lines would lose
//! that row.

use super::{Record, Voice};

/// Most lines between a library line and the application line it is merged into.
pub const MERGE_LINES: u64 = 8;
/// Most time between them when both carry a time: 2 s.
pub const MERGE_NS: i64 = 2_000_000_000;

fn same_if_both<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Do these two records (an application's and a library's) describe the same close?
pub fn same_close(app: &Record, lib: &Record) -> bool {
    (app.source == lib.source || app.source == super::PATTERN_SOURCE)
        && app.close_code == lib.close_code
        && app.close_reason == lib.close_reason
        && app.pos.abs_diff(lib.pos) <= MERGE_LINES
        && match (app.end_ns, lib.end_ns) {
            (Some(a), Some(b)) => a.checked_sub(b).is_some_and(|d| d.abs() <= MERGE_NS),
            _ => true,
        }
        && same_if_both(&app.session_id, &lib.session_id)
        && same_if_both(&app.role, &lib.role)
        && same_if_both(&app.client_ip, &lib.client_ip)
        && same_if_both(&app.client_port, &lib.client_port)
        && same_if_both(&app.server_ip, &lib.server_ip)
        && same_if_both(&app.server_port, &lib.server_port)
}

/// Fill the fields `into` lacks from `from`.
fn absorb(into: &mut Record, from: Record) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if into.$f.is_none() { into.$f = from.$f; } )* };
    }
    fill!(
        session_id,
        client_ip,
        client_port,
        server_ip,
        server_port,
        start_ns,
        end_ns,
        duration_s,
        host,
        path,
        user_agent,
        initiator,
        client_close_code,
        client_close_reason,
        server_close_code,
        server_close_reason,
        handshake_completed,
        client_observed_code,
        server_observed_code,
        role,
        thread,
        clock_ns
    );
}

/// A thread asking a session to close, as a library logs it (Jetty 9's
/// `THREAD: close(CloseInfo[code=..,reason=..])`): not a record, but it ties the thread to
/// the session it closes (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRequest {
    /// Its position in the file ([`Record::pos`](super::Record::pos)).
    pub pos: u64,
    pub thread: String,
    pub code: u16,
    pub reason: Option<String>,
}

/// Did `thread` ask, at most [`MERGE_LINES`] lines before `pos`, for a close that an
/// already kept record (in `out`, after the request) was handed?
fn asked_and_answered(requests: &[CloseRequest], out: &[Record], thread: &str, pos: u64) -> bool {
    let before = requests.partition_point(|q| q.pos < pos);
    requests[..before]
        .iter()
        .rev()
        .take_while(|q| pos - q.pos <= MERGE_LINES)
        .filter(|q| q.thread == thread)
        .any(|q| {
            out.iter()
                .rev()
                .take_while(|k| k.pos > q.pos)
                .any(|k| k.close_code == Some(q.code) && k.close_reason == q.reason)
        })
}

/// Drop repeated once-per-session library callbacks (see the module doc); `requests` are
/// the file's close requests in line order. Returns the records left and how many were
/// dropped.
pub fn repeats(rows: Vec<Record>, requests: &[CloseRequest]) -> (Vec<Record>, u64) {
    if !rows.iter().any(|r| r.thread.is_some()) {
        return (rows, 0);
    }
    let mut out: Vec<Record> = Vec::with_capacity(rows.len());
    let mut dropped = 0;
    for r in rows {
        let repeat = r.voice == Voice::Library
            && r.thread.as_deref().is_some_and(|t| {
                out.iter()
                    .rev()
                    .take_while(|k| r.pos.abs_diff(k.pos) <= MERGE_LINES)
                    .any(|k| k.source == r.source && k.thread == r.thread)
                    || asked_and_answered(requests, &out, t, r.pos)
            });
        if repeat {
            dropped += 1;
        } else {
            out.push(r);
        }
    }
    (out, dropped)
}

/// Apply the rules of this module to one file's records (in line order): [`repeats`]
/// (with the file's close requests, in line order), then library lines into application
/// lines. Returns the records left and how many were folded away.
pub fn merge(rows: Vec<Record>, requests: &[CloseRequest]) -> (Vec<Record>, u64) {
    let (rows, dropped) = repeats(rows, requests);
    if !rows.iter().any(|r| r.voice == Voice::Library) {
        return (rows, dropped);
    }
    let n = rows.len();
    // partner[i] = the library record merged into application record i.
    let mut partner: Vec<Option<usize>> = vec![None; n];
    let mut used = vec![false; n];
    for i in 0..n {
        if rows[i].voice != Voice::App {
            continue;
        }
        let eligible = |j: usize| -> bool {
            !used[j] && rows[j].voice == Voice::Library && same_close(&rows[i], &rows[j])
        };
        // Rows are in line order: look back, then forward, while within MERGE_LINES.
        let before = (0..i)
            .rev()
            .take_while(|&j| rows[i].pos.abs_diff(rows[j].pos) <= MERGE_LINES)
            .find(|&j| eligible(j));
        let pick = before.or_else(|| {
            (i + 1..n)
                .take_while(|&j| rows[i].pos.abs_diff(rows[j].pos) <= MERGE_LINES)
                .find(|&j| eligible(j))
        });
        if let Some(j) = pick {
            used[j] = true;
            partner[i] = Some(j);
        }
    }
    let merged = used.iter().filter(|u| **u).count() as u64;
    let total = merged + dropped;
    let mut slots: Vec<Option<Record>> = rows.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n - merged as usize);
    for i in 0..n {
        if used[i] {
            continue;
        }
        let Some(mut rec) = slots[i].take() else {
            continue;
        };
        if let Some(j) = partner[i] {
            if let Some(lib) = slots[j].take() {
                absorb(&mut rec, lib);
            }
        }
        out.push(rec);
    }
    (out, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: u64, voice: Voice, code: u16) -> Record {
        Record {
            source: "tungstenite",
            close_code: Some(code),
            line,
            pos: line,
            voice,
            ..Default::default()
        }
    }

    #[test]
    fn library_line_merges_into_the_nearest_app_line() {
        let rows = vec![
            rec(1, Voice::Library, 1000),
            rec(3, Voice::App, 1000),
            rec(4, Voice::Library, 1000),
            rec(5, Voice::App, 1000),
        ];
        let (out, merged) = merge(rows, &[]);
        assert_eq!(merged, 2);
        assert_eq!(out.iter().map(|r| r.line).collect::<Vec<_>>(), vec![3, 5]);
    }

    #[test]
    fn a_callback_repeated_on_its_thread_is_dropped() {
        let mut rows = vec![
            rec(1, Voice::Library, 1000),
            rec(2, Voice::Library, 1000),
            rec(3, Voice::Library, 1006),
            rec(4, Voice::Library, 1006),
            rec(30, Voice::Library, 1006),
        ];
        for (r, t) in rows.iter_mut().zip(["a", "b", "b", "a", "a"]) {
            r.thread = Some(t.into());
        }
        let (out, dropped) = repeats(rows, &[]);
        assert_eq!(dropped, 2);
        assert_eq!(
            out.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![1, 2, 30]
        );
    }

    /// Jetty's client: `main` asks for 1001 (line 1), the server's and the client's
    /// callbacks get it (2, 3), each thread repeats for the disconnect (4, 5), then `main`
    /// calls back once more for the client session it closed (9). Then the server,
    /// closing inside onWebSocketConnect: `s2` asks for 1001 (20) but its application is
    /// handed 1006 first (21, a row), and the client gets the 1001 (25).
    #[test]
    fn a_callback_from_the_thread_that_asked_for_the_close_is_a_repeat() {
        let mut rows = vec![
            rec(2, Voice::Library, 1001),
            rec(3, Voice::Library, 1001),
            rec(4, Voice::Library, 1006),
            rec(5, Voice::Library, 1006),
            rec(9, Voice::Library, 1006),
            rec(21, Voice::Library, 1006),
            rec(25, Voice::Library, 1001),
        ];
        for (r, t) in rows
            .iter_mut()
            .zip(["s1", "c1", "c1", "s1", "main", "s2", "c2"])
        {
            r.thread = Some(t.into());
        }
        let ask = |pos, thread: &str| CloseRequest {
            pos,
            thread: thread.into(),
            code: 1001,
            reason: None,
        };
        let requests = [ask(1, "main"), ask(20, "s2")];
        let (out, dropped) = repeats(rows.clone(), &requests);
        assert_eq!(dropped, 3);
        assert_eq!(
            out.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3, 21, 25]
        );
        // Nine lines after the request is past the window: a row again.
        rows[4].line = 10;
        rows[4].pos = 10;
        let (out, _) = repeats(rows, &requests);
        assert!(out.iter().any(|r| r.line == 10));
    }

    #[test]
    fn two_app_lines_with_one_code_stay_two_sessions() {
        let rows = vec![rec(1, Voice::App, 1001), rec(2, Voice::App, 1001)];
        let (out, merged) = merge(rows, &[]);
        assert_eq!((out.len(), merged), (2, 0));
    }

    #[test]
    fn different_ids_sides_reasons_or_far_lines_do_not_merge() {
        let mut a = rec(1, Voice::Library, 1000);
        a.session_id = Some("a".into());
        let mut b = rec(2, Voice::App, 1000);
        b.session_id = Some("b".into());
        assert!(!same_close(&b, &a));
        let mut c = rec(2, Voice::App, 1000);
        c.close_reason = Some("bye".into());
        assert!(!same_close(&c, &rec(1, Voice::Library, 1000)));
        assert!(!same_close(
            &rec(20, Voice::App, 1000),
            &rec(1, Voice::Library, 1000)
        ));
        let mut d = rec(2, Voice::App, 1000);
        d.end_ns = Some(10_000_000_000);
        let mut e = rec(1, Voice::Library, 1000);
        e.end_ns = Some(1);
        assert!(!same_close(&d, &e));
        let mut f = rec(2, Voice::App, 1000);
        f.role = Some(super::super::Role::Client);
        let mut g = rec(1, Voice::Library, 1000);
        g.role = Some(super::super::Role::Server);
        assert!(!same_close(&f, &g));
    }
}
