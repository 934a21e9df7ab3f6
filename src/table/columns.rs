//! Reading whole DataFrame columns into plain vectors (nulls as `None`), and the time
//! type every table uses.
//!
//! Contract: each reader casts the named column to the wanted type first, so callers
//! work the same on tables built in memory and on tables read back from CSV or Parquet
//! (where integer widths may differ, and where pandas may have written times in µs):
//! [`i64s`] gives times as ns since the epoch whatever their unit.

use polars::prelude::*;
use serde::Serializer;

use crate::text::iso_time;

/// `Datetime(ns, UTC)`: the type of every time column.
pub fn utc_ns() -> DataType {
    DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
}

/// A time column as ns since the epoch (any datetime unit or time zone is accepted).
pub fn ns_expr(name: &str) -> Expr {
    col(name).cast(utc_ns()).cast(DataType::Int64)
}

/// `df.filter(mask)` (a null in `mask` drops its row, as there) that frees each column of
/// `df` as soon as its filtered copy is made, instead of holding the whole table twice:
/// the report filters a 350,000-session table, and two copies of it were 127 MiB more
/// at the peak. Memory a column shares with another holder is freed by that one.
pub fn filter_owned(df: DataFrame, mask: &BooleanChunked) -> PolarsResult<DataFrame> {
    if df.width() == 0 {
        return df.filter(mask);
    }
    let mut kept = Vec::with_capacity(df.width());
    for c in df.into_columns() {
        kept.push(c.filter(mask)?);
        // `c` is dropped here, before the next column is copied.
    }
    DataFrame::new(kept[0].len(), kept)
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
    let ca = i64_ca(df, name)?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

/// [`i64s`] as one chunk to read row by row: 8 bytes a row, not 16.
pub fn i64_ca(df: &DataFrame, name: &str) -> PolarsResult<Int64Chunked> {
    let s = df.column(name)?.as_materialized_series();
    let s = if matches!(s.dtype(), DataType::Datetime(_, _)) {
        s.cast(&utc_ns())?.cast(&DataType::Int64)?
    } else {
        s.cast(&DataType::Int64)?
    };
    Ok(s.i64()?.rechunk().into_owned())
}

pub fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let ca = f64_ca(df, name)?;
    Ok((0..ca.len()).map(|i| ca.get(i)).collect())
}

/// [`f64s`] as one chunk to read row by row: 8 bytes a row, not 16.
pub fn f64_ca(df: &DataFrame, name: &str) -> PolarsResult<Float64Chunked> {
    let s = series(df, name, &DataType::Float64)?;
    Ok(s.f64()?.rechunk().into_owned())
}

pub fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let s = series(df, name, &DataType::String)?;
    let ca = s.str()?;
    Ok((0..ca.len())
        .map(|i| ca.get(i).map(str::to_string))
        .collect())
}

/// A string column to read row by row without copying its values (unlike [`strs`],
/// which makes a `String` per row: ~50 B a row, too much for whole session tables).
pub fn str_ca(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    let s = series(df, name, &DataType::String)?;
    Ok(s.str()?.rechunk().into_owned())
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

/// Cast `df` to the columns of `template` (an empty table of the right schema), in its
/// order: missing columns become typed nulls, text times (ISO 8601, as CSV and JSON
/// exports write them) are parsed, text booleans read. One rule for tables read back,
/// log rows and anything else joining the session table.
pub fn conform_to(df: DataFrame, template: &DataFrame) -> PolarsResult<DataFrame> {
    let have = df.schema();
    let exprs: Vec<Expr> = template
        .schema()
        .iter()
        .map(|(name, dt)| {
            let e = match have.get(name) {
                None => lit(NULL).cast(dt.clone()),
                Some(DataType::String) if matches!(dt, DataType::Datetime(_, _)) => {
                    col(name.clone()).str().to_datetime(
                        Some(TimeUnit::Nanoseconds),
                        Some(TimeZone::UTC),
                        StrptimeOptions {
                            format: Some("%Y-%m-%dT%H:%M:%S%.fZ".into()),
                            strict: false,
                            ..Default::default()
                        },
                        lit("raise"),
                    )
                }
                Some(DataType::String) if *dt == DataType::Boolean => {
                    col(name.clone()).str().to_lowercase().eq(lit("true"))
                }
                Some(_) => col(name.clone()).cast(dt.clone()),
            };
            e.alias(name.clone())
        })
        .collect();
    df.lazy().select(exprs).collect()
}

/// A `String` column in which equal values longer than a view's inline 12 bytes share
/// one copy of their bytes. Session tables repeat a few long values on every row (the
/// capture name, user agents, hosts, extension lists, code names): stored once each,
/// a 10 GiB capture's table held ~45 MiB less. Same dtype and values as
/// `Column::new(name, Vec<Option<String>>)`.
pub fn shared_str_col<'a>(
    name: &str,
    values: impl Iterator<Item = Option<&'a str>>,
) -> PolarsResult<Column> {
    use polars_arrow::array::{Utf8ViewArray, View};
    use polars_arrow::bitmap::MutableBitmap;
    use polars_arrow::datatypes::ArrowDataType;
    use polars_buffer::Buffer;

    let mut views: Vec<View> = Vec::with_capacity(values.size_hint().0);
    let mut validity = MutableBitmap::with_capacity(views.capacity());
    let mut bytes: Vec<u8> = Vec::new();
    let mut seen: foldhash::HashMap<&'a str, View> = foldhash::HashMap::default();
    let mut any_null = false;
    let mut total_bytes = 0usize;
    for v in values {
        validity.push(v.is_some());
        let Some(v) = v else {
            any_null = true;
            views.push(View::default());
            continue;
        };
        total_bytes += v.len();
        if v.len() <= View::MAX_INLINE_SIZE as usize {
            views.push(View::new_inline(v.as_bytes()));
            continue;
        }
        let view = match seen.get(v) {
            Some(view) => *view,
            None => {
                // One buffer per column: a session chunk is a few thousand rows of
                // values capped at a few KiB, far below the 4 GiB a view can address.
                let offset = u32::try_from(bytes.len())
                    .map_err(|_| polars_err!(ComputeError: "string column over 4 GiB"))?;
                bytes.extend_from_slice(v.as_bytes());
                let view = View::new_from_bytes(v.as_bytes(), 0, offset);
                seen.insert(v, view);
                view
            }
        };
        views.push(view);
    }
    let total_buffer = bytes.len();
    let buffers: Buffer<Buffer<u8>> = if bytes.is_empty() {
        Buffer::new()
    } else {
        Buffer::from(vec![Buffer::from(bytes)])
    };
    // SAFETY: every view was made from a `&str` (valid UTF-8) by `View::new_inline`, or
    // by `View::new_from_bytes` over exactly the bytes appended at `offset` to the one
    // buffer; the validity has a bit per view; the lengths are the sums just counted.
    // (`try_new` would check all of that again, UTF-8 included: 2-3 % of a whole run.)
    let arr = unsafe {
        Utf8ViewArray::new_unchecked(
            ArrowDataType::Utf8View,
            Buffer::from(views),
            buffers,
            any_null.then(|| validity.into()),
            Some(total_bytes),
            total_buffer,
        )
    };
    Ok(StringChunked::with_chunk(name.into(), arr).into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report leaves rows out with `filter_owned`: the rows `DataFrame::filter`
    /// keeps (a null in the mask drops its row), whatever the column (strings, nulls,
    /// a column of one repeated null value).
    #[test]
    fn filter_owned_keeps_what_filter_keeps() {
        let df = DataFrame::new(
            4,
            vec![
                Column::new(
                    "s".into(),
                    [Some("a long value, not inline"), None, Some("b"), Some("c")],
                ),
                Column::new("n".into(), [Some(1i64), Some(2), None, Some(4)]),
                Column::full_null("z".into(), 4, &DataType::String),
            ],
        )
        .unwrap();
        let mask = BooleanChunked::new("m".into(), [Some(true), None, Some(false), Some(true)]);
        let want = df.filter(&mask).unwrap();
        let got = filter_owned(df, &mask).unwrap();
        assert_eq!(got.height(), 2);
        assert!(got.equals_missing(&want), "{got}\n{want}");
        assert_eq!(got.schema(), want.schema());
    }

    #[test]
    fn shared_strings_read_back_as_the_plain_column() {
        let long = "Mozilla/5.0 (X11; Linux x86_64) a long user agent";
        let vals: Vec<Option<&str>> = vec![
            Some(long),
            None,
            Some("short"),
            Some(long),
            Some(""),
            Some("é".repeat(9).leak()),
        ];
        let got = shared_str_col("ua", vals.iter().copied()).unwrap();
        let want = Column::new(
            "ua".into(),
            vals.iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>(),
        );
        assert_eq!(got.dtype(), want.dtype());
        assert!(got
            .as_materialized_series()
            .equals_missing(want.as_materialized_series()));
        let none: Vec<Option<&str>> = Vec::new();
        assert_eq!(shared_str_col("x", none.into_iter()).unwrap().len(), 0);
    }
}

/// A value's 64-bit hash, the same in every run (fixed seed): what the tables and the
/// analyses compare instead of the values (keys seen, addresses, WebSocket keys).
pub fn stable_hash(v: impl std::hash::Hash) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6b65_7074_6861_7368).hash_one(v)
}

/// A text value's [`stable_hash`], as [`Kept::hashed`] columns hold it: 0 for the empty
/// text, never 0 otherwise.
pub fn text_hash(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    stable_hash(text).max(1)
}

/// A text column as [`text_hash`]es: read as it is when it already holds them (a
/// `UInt64` column, as [`Kept`] leaves it), hashed here when it holds text.
pub fn hashes(df: &DataFrame, name: &str) -> PolarsResult<UInt64Chunked> {
    let c = df.column(name)?;
    if c.dtype() == &DataType::UInt64 {
        return Ok(c.u64()?.rechunk().into_owned());
    }
    let ca = str_ca(df, name)?;
    Ok(ca
        .iter()
        .map(|v| v.map(text_hash))
        .collect::<UInt64Chunked>()
        .with_name(name.into()))
}

/// What the session table kept for the reports holds of each row, as the command's
/// reports need it (the analyses say which: `analysis::summary::kept_for`); the export
/// always gets whole rows. On 350,000 sessions a text column costs 5.6 MiB of views
/// alone (16 bytes a row, whatever the text), more with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// Columns no report asked for reads: null (same name and type), no memory per row.
    pub nulled: Vec<&'static str>,
    /// Text columns the reports only compare for equality: `UInt64` [`text_hash`]es
    /// (8 bytes a row, null stays null), read back with [`hashes`].
    pub hashed: Vec<&'static str>,
}

impl Kept {
    /// Whether `column` is left out (null) of the kept table.
    pub fn drops(&self, column: &str) -> bool {
        self.nulled.contains(&column)
    }

    /// The columns of `df` that are kept with a value, `hashed` ones as hashes, in
    /// `df`'s order; `nulled` ones are not there (see [`Kept::widen`]).
    pub fn narrow(&self, df: &DataFrame) -> PolarsResult<DataFrame> {
        let mut columns = Vec::with_capacity(df.width());
        for c in df.columns() {
            let name = c.name().as_str();
            if self.drops(name) {
                continue;
            }
            if self.hashed.contains(&name) && c.dtype() == &DataType::String {
                columns.push(hashes(df, name)?.into_column());
            } else {
                columns.push(c.clone());
            }
        }
        DataFrame::new(df.height(), columns)
    }

    /// A [`Kept::narrow`]ed table given back the columns of `template` (an empty table
    /// of the full schema) in its order: the `nulled` ones as nulls of their type, and
    /// a column with one value on every row (one capture, one server, HTTP/1.1 only,
    /// no HTTP/2 at all) as that value once ([`one_value`]).
    pub fn widen(&self, narrow: DataFrame, template: &DataFrame) -> PolarsResult<DataFrame> {
        let height = narrow.height();
        let columns = template
            .columns()
            .iter()
            .map(|c| match narrow.column(c.name()) {
                Ok(kept) => one_value(kept),
                Err(_) if self.drops(c.name()) => {
                    Ok(Column::full_null(c.name().clone(), height, c.dtype()))
                }
                Err(e) => Err(e),
            })
            .collect::<PolarsResult<Vec<Column>>>()?;
        DataFrame::new(height, columns)
    }

    /// `df` as kept: [`Kept::narrow`] then [`Kept::widen`] to `df`'s own columns.
    pub fn apply(&self, df: DataFrame) -> PolarsResult<DataFrame> {
        let template = df.clear();
        let narrow = self.narrow(&df)?;
        drop(df);
        self.widen(narrow, &template)
    }
}

/// `c` as a scalar column (its value once, whatever its length) when every row holds
/// the same value or every row is null; else `c` as it is. Readers see the same
/// values; a reader that needs the rows one by one gets them made then.
pub fn one_value(c: &Column) -> PolarsResult<Column> {
    let len = c.len();
    if len == 0 || matches!(c, Column::Scalar(_)) {
        return Ok(c.clone());
    }
    if c.null_count() == len {
        return Ok(Column::full_null(c.name().clone(), len, c.dtype()));
    }
    // (Compared with the first value, not counted with `n_unique`: that hashes every
    // value of a column of unique ids, ~10 MiB at the peak for 350,000 rows.)
    if c.null_count() == 0 && {
        let s = c.as_materialized_series();
        s.equal(&s.slice(0, 1))?.all()
    } {
        let v = c.get(0)?.into_static();
        return Ok(Column::new_scalar(
            c.name().clone(),
            Scalar::new(c.dtype().clone(), v),
            len,
        ));
    }
    Ok(c.clone())
}
