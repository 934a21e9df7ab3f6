//! Reading whole DataFrame columns into plain vectors (nulls as `None`).
//!
//! Contract: each function casts the named column to the wanted type first, so callers
//! work the same on tables built in memory and on tables read back from CSV or Parquet
//! (where integer widths may differ).

use polars::prelude::*;

fn series(df: &DataFrame, name: &str, dt: &DataType) -> PolarsResult<Series> {
    df.column(name)?.as_materialized_series().cast(dt)
}

pub fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<u64>>> {
    let s = series(df, name, &DataType::UInt64)?;
    let ca = s.u64()?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

pub fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let s = series(df, name, &DataType::Int64)?;
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
