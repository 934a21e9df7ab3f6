//! Facts and verdicts to what people read: the terminal report, Markdown and HTML.
//!
//! Contract: views take the models of [`crate::analysis`] and [`crate::audit`] and
//! return text; they read no tables and no files, and escape everything that came off
//! the wire for their medium ([`crate::text::sanitize`] for terminals, HTML and Markdown
//! escaping in their own files). JSON is the models' `serde` form, written by
//! [`crate::cmd`].

/// The report's width when neither `COLUMNS` nor a terminal says otherwise.
pub const DEFAULT_WIDTH: usize = 100;

/// How the terminal report is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns: no line is wider (`COLUMNS`, the terminal, or [`DEFAULT_WIDTH`]).
    pub width: usize,
    /// Rows per table (`--top`): close codes, reconnects, breakdowns.
    pub top: usize,
    /// `--all-codes`: every code its own row.
    pub all_codes: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: DEFAULT_WIDTH,
            top: 10,
            all_codes: false,
        }
    }
}

pub mod audit;
pub mod dashboard;
pub mod diagnosis;
pub mod html;
pub mod markdown;
pub mod proxies;
pub mod reconnects;
pub mod report;
pub mod timeline;
