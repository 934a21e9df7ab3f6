#!/usr/bin/env python3
"""Run wsaudit over a fleet of captures on an existing Spark cluster.

Each capture path (local, HDFS or S3: anything the executors can open with
``pyarrow.fs``) becomes one task that runs the ``wsaudit`` binary on it and hands its
session rows back to Spark as Arrow batches (``mapInArrow``). The result is a Spark
DataFrame with the session table's documented columns (docs/schema.md), written as
Parquet partitioned by ``date``, and the per-code report as Spark SQL: the same
numbers ``wsaudit report`` gives over the same files.

    spark-submit --files target/release/wsaudit contrib/spark/wsaudit_spark.py \\
        --out s3://bucket/ws/sessions/ s3://bucket/captures/2026-12-04/*.pcap

    python3 contrib/spark/wsaudit_spark.py --master 'local[2]' \\
        --wsaudit target/release/wsaudit --out /tmp/fleet fixtures/*.pcap

The binary comes from ``--files`` (found with ``SparkFiles``) or ``--wsaudit PATH`` (a
path that exists on every node). Spark has no unsigned integers: ``uint16`` columns
(close codes, ports) become ``int`` and ``uint32`` become ``bigint``; everything else
keeps its type. ``capture`` and ``session_id`` name the original path, as
``wsaudit analyze PATH`` would.

See docs/fleet.md for sizing and for the nightly audit over the fleet's dataset.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

# One empty pcap (the 24-byte header): the session table's schema comes from running
# wsaudit on it, so this job never lists the columns itself.
EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


def spark_type(t):
    """The Arrow type Spark takes for `t`: unsigned integers widened to the signed types
    Spark has; large strings and lists as plain ones (Spark's Arrow reader has no
    LargeList)."""
    if pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return pa.int64()
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(spark_type(t.value_type))
    return t


def spark_safe(table):
    """The table with the types Spark takes (`spark_type`)."""
    schema = pa.schema([pa.field(f.name, spark_type(f.type), f.nullable) for f in table.schema])
    return table.cast(schema)


def binary(path):
    """The wsaudit binary: the given path, else the one shipped with --files."""
    if path:
        return path
    from pyspark import SparkFiles

    return SparkFiles.get("wsaudit")


def run_wsaudit(exe, capture, workdir, extra):
    """Run wsaudit on one local capture; its session table as an Arrow table."""
    out = os.path.join(workdir, "sessions.parquet")
    r = subprocess.run(
        [exe, "analyze", "-q", capture, "--sessions", out, *extra],
        capture_output=True,
        text=True,
    )
    # 2: some input could not be read whole; what was read is in the table (and the
    # problem on stderr, which Spark keeps in the executor's log).
    if r.returncode not in (0, 2) or not os.path.exists(out):
        raise RuntimeError(f"wsaudit failed on {capture} ({r.returncode}): {r.stderr[-2000:]}")
    if r.stderr:
        sys.stderr.write(r.stderr)
    return pq.read_table(out)


def local_copy(uri, workdir):
    """A local path for `uri`: itself when local, else a copy fetched with pyarrow.fs."""
    if os.path.exists(uri):
        return uri
    fs, path = pafs.FileSystem.from_uri(uri)
    local = os.path.join(workdir, os.path.basename(path) or "capture")
    with fs.open_input_stream(path) as src, open(local, "wb") as dst:
        shutil.copyfileobj(src, dst, 8 << 20)
    return local


def renamed(table, uri, local):
    """`capture` and `session_id` as they would be for the original path."""
    if local == uri:
        return table
    cap = pa.array([uri] * table.num_rows, pa.large_string())
    ids = [uri + s[len(local):] if s and s.startswith(local) else s
           for s in table.column("session_id").to_pylist()]
    table = table.set_column(table.schema.get_field_index("capture"), "capture", cap)
    return table.set_column(
        table.schema.get_field_index("session_id"), "session_id",
        pa.array(ids, pa.large_string()))


def sessions_of(exe, extra):
    """The mapInArrow function: capture paths in, session rows out."""

    def run(batches):
        for batch in batches:
            for uri in batch.column("path").to_pylist():
                workdir = tempfile.mkdtemp(prefix="wsaudit-spark-")
                try:
                    local = local_copy(uri, workdir)
                    table = spark_safe(renamed(run_wsaudit(exe, local, workdir, extra), uri, local))
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
                yield from table.to_batches()

    return run


def session_schema(exe):
    """The session table's schema, from wsaudit itself (on an empty capture)."""
    workdir = tempfile.mkdtemp(prefix="wsaudit-spark-schema-")
    try:
        p = os.path.join(workdir, "empty.pcap")
        with open(p, "wb") as f:
            f.write(EMPTY_PCAP)
        return spark_safe(run_wsaudit(exe, p, workdir, [])).schema
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


PER_CODE_SQL = """
SELECT close_code, close_code_name, count(*) AS sessions
FROM sessions
WHERE ending <> 'undecrypted'
GROUP BY close_code, close_code_name
ORDER BY sessions DESC, close_code
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="+", help="capture paths or globs (local, hdfs://, s3://)")
    ap.add_argument("--out", required=True, help="where the partitioned Parquet dataset goes")
    ap.add_argument("--wsaudit", help="the binary's path on every node (default: from --files)")
    ap.add_argument("--master", help="Spark master for a run without spark-submit, e.g. local[2]")
    ap.add_argument("--files-per-task", type=int, default=1,
                    help="captures per Spark task (default 1: one task per capture)")
    ap.add_argument("--report-json", help="also write the per-code report (the SQL below) here")
    ap.add_argument("--keylog", action="append", default=[],
                    help="TLS key log passed to wsaudit (a path on every node)")
    args = ap.parse_args(argv)

    from pyspark.sql import SparkSession, functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    builder = SparkSession.builder.appName("wsaudit")
    if args.master:
        builder = builder.master(args.master)
        # A run without spark-submit: the workers use this Python (and its pyarrow).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")

    paths = []
    for c in args.captures:
        local = sorted(glob.glob(c)) if "://" not in c else []
        paths.extend(local or [c])
    exe = args.wsaudit or binary(None)
    extra = [a for k in args.keylog for a in ("--keylog", k)]
    arrow_schema = session_schema(exe)
    tasks = max(1, (len(paths) + args.files_per_task - 1) // args.files_per_task)
    files = spark.createDataFrame([(p,) for p in paths], "path string").repartition(tasks)
    sessions = files.mapInArrow(sessions_of(exe, extra), from_arrow_schema(arrow_schema))
    sessions = sessions.withColumn("date", F.to_date(F.col("start_time")))
    sessions.write.mode("overwrite").partitionBy("date").parquet(args.out)

    spark.read.parquet(args.out).createOrReplaceTempView("sessions")
    rows = [r.asDict() for r in spark.sql(PER_CODE_SQL).collect()]
    for r in rows:
        print(f"{r['close_code']!s:>6} {r['close_code_name'] or '':<24} {r['sessions']:>8}")
    if args.report_json:
        with open(args.report_json, "w") as f:
            json.dump(rows, f, indent=1)
    spark.stop()


if __name__ == "__main__":
    main()
