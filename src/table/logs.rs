//! Log records to the session table (polars; the `report` feature).
//!
//! Contract: [`records_frame`] turns log records ([`crate::logs`]) into the session
//! table with exactly the columns, order and types of
//! [`sessions_frame(&[])`](crate::table::session::sessions_frame); columns a log cannot
//! fill are null.

use polars::prelude::*;

use crate::logs::Record;
use crate::table::columns::utc_ns;
use crate::table::session::sessions_frame;
use crate::ws::CloseCode;

/// Build the session table from log records: the documented schema, with the columns
/// logs cannot fill left null (the approach of `table::load`).
pub fn records_frame(rows: &[Record]) -> PolarsResult<DataFrame> {
    let template = sessions_frame(&[])?;
    let n = rows.len();
    let s = |f: &dyn Fn(&Record) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    };
    let u16c =
        |f: &dyn Fn(&Record) -> Option<u16>| -> Vec<Option<u16>> { rows.iter().map(f).collect() };
    let time = |name: &str, f: &dyn Fn(&Record) -> Option<i64>| -> PolarsResult<Column> {
        Column::new(
            name.into(),
            rows.iter().map(f).collect::<Vec<Option<i64>>>(),
        )
        .cast(&utc_ns())
    };
    let cols = vec![
        Column::new("capture".into(), s(&|r| Some(r.capture.clone()))),
        Column::new("source".into(), s(&|r| Some(r.source.to_string()))),
        Column::new("session_id".into(), s(&|r| r.session_id.clone())),
        Column::new("client_ip".into(), s(&|r| r.client_ip.clone())),
        Column::new("client_port".into(), u16c(&|r| r.client_port)),
        Column::new("server_ip".into(), s(&|r| r.server_ip.clone())),
        Column::new("server_port".into(), u16c(&|r| r.server_port)),
        time("start_time", &|r| r.start_ns)?,
        time("end_time", &|r| r.end_ns)?,
        Column::new(
            "duration_s".into(),
            rows.iter()
                .map(|r| r.duration_s)
                .collect::<Vec<Option<f64>>>(),
        ),
        Column::new("host".into(), s(&|r| r.host.clone())),
        Column::new("path".into(), s(&|r| r.path.clone())),
        Column::new("user_agent".into(), s(&|r| r.user_agent.clone())),
        Column::new(
            "ending".into(),
            s(&|r| r.ending.map(|e| e.as_str().to_string())),
        ),
        Column::new("close_code".into(), u16c(&|r| r.close_code)),
        Column::new(
            "close_code_name".into(),
            s(&|r| r.close_code.map(|c| CloseCode::from(c).name().to_string())),
        ),
        Column::new("close_reason".into(), s(&|r| r.close_reason.clone())),
        Column::new(
            "initiator".into(),
            s(&|r| r.initiator.map(|i| i.as_str().to_string())),
        ),
        Column::new("client_close_code".into(), u16c(&|r| r.client_close_code)),
        Column::new(
            "client_close_reason".into(),
            s(&|r| r.client_close_reason.clone()),
        ),
        Column::new("server_close_code".into(), u16c(&|r| r.server_close_code)),
        Column::new(
            "server_close_reason".into(),
            s(&|r| r.server_close_reason.clone()),
        ),
        Column::new(
            "handshake_completed".into(),
            rows.iter()
                .map(|r| r.handshake_completed)
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "client_observed_code".into(),
            u16c(&|r| r.client_observed_code),
        ),
        Column::new(
            "server_observed_code".into(),
            u16c(&|r| r.server_observed_code),
        ),
    ];
    let df = DataFrame::new(n, cols)?;
    crate::table::columns::conform_to(df, &template)
}
