//! Reading whole DataFrame columns into plain vectors (nulls as `None`), and the time
//! type every table uses.
//!
//! Contract: each reader casts the named column to the wanted type first, so callers
//! work the same on tables built in memory and on tables read back from CSV or Parquet
//! (where integer widths may differ, and where pandas may have written times in µs):
//! [`i64s`] gives times as ns since the epoch whatever their unit.

use polars::prelude::*;
use serde::Serializer;

use super::text::iso_time;

/// `Datetime(ns, UTC)`: the type of every time column.
pub fn utc_ns() -> DataType {
    DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
}

/// A time column as ns since the epoch (any datetime unit or time zone is accepted).
pub fn ns_expr(name: &str) -> Expr {
    col(name).cast(utc_ns()).cast(DataType::Int64)
}

fn series(df: &DataFrame, name: &str, dt: &DataType) -> PolarsResult<Series> {
    df.column(name)?.as_materialized_series().cast(dt)
}

pub fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<u64>>> {
    let s = series(df, name, &DataType::UInt64)?;
    let ca = s.u64()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

pub fn u16s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<u16>>> {
    let s = series(df, name, &DataType::UInt16)?;
    let ca = s.u16()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

/// Integers, or times as ns since the epoch.
pub fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let s = df.column(name)?.as_materialized_series();
    let s = if matches!(s.dtype(), DataType::Datetime(_, _)) {
        s.cast(&utc_ns())?.cast(&DataType::Int64)?
    } else {
        s.cast(&DataType::Int64)?
    };
    let ca = s.i64()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

pub fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let s = series(df, name, &DataType::Float64)?;
    let ca = s.f64()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

pub fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let s = series(df, name, &DataType::String)?;
    let ca = s.str()?;
    Ok((0..ca.len())
        .map(|i| ca.get(i).map(str::to_string))
        .collect())
}

pub fn bools(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<bool>>> {
    let s = series(df, name, &DataType::Boolean)?;
    let ca = s.bool()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

/// serde: a time (ns since the epoch) as ISO 8601 UTC text.
pub fn ser_time<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso_time(*ns))
}

/// serde: an optional time as ISO 8601 UTC text or null.
pub fn ser_opt_time<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => s.serialize_str(&iso_time(*ns)),
        None => s.serialize_none(),
    }
}
