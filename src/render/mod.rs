//! Facts and verdicts to what people read: the terminal report, Markdown and HTML.
//!
//! Contract: views take the models of [`crate::analysis`] and [`crate::audit`] and
//! return text; they read no tables and no files, and escape everything that came off
//! the wire for their medium ([`crate::text::sanitize`] for terminals, HTML and Markdown
//! escaping in their own files). JSON is the models' `serde` form, written by
//! [`crate::cmd`].

pub mod audit;
pub mod dashboard;
pub mod diagnosis;
pub mod html;
pub mod markdown;
pub mod reconnects;
pub mod report;
pub mod timeline;
