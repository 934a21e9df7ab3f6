//! Session tables to typed facts: no formatting, no files.
//!
//! Contract: every function takes the session table (in the schema of
//! [`crate::table::session`]) and returns plain structs (serializable, for `--format
//! json`) or small `DataFrame`s (for the exports): [`percode`] the per-code and
//! per-ending counts, [`breakdown`] the `--by` groups, [`diagnose`] the 1006 diagnosis,
//! [`reconnect`] reconnects and their flags, [`proxies`] the legs of proxied sessions
//! paired, [`timeouts`] the known default timeouts, [`timeline`] closes over time, [`charts`]
//! the histograms and top reasons of the dashboards, and [`summary`] the whole
//! [`summary::Report`] built from them. Views live in [`crate::render`].

pub mod breakdown;
pub mod charts;
pub mod diagnose;
pub mod percode;
pub mod proxies;
pub mod reconnect;
pub mod summary;
pub mod timeline;
pub mod timeouts;
