"""Weft against Apache Flink on the same events, the same machine, in one run (driven by scripts/bench-vs-flink).

Both engines run the same four workloads over the same JSON events (the events of `weft-sql`'s SQL benchmark,
about 230 bytes each, 1000 keys, 10 ms apart in event time):

  filter        filter + projection
  changes       per-key 1-minute COUNT/SUM with an update per input (ksqlDB EMIT CHANGES; Flink's group
                aggregation on the minute, which emits an update per input as well)
  final         1-minute tumbling windows, final results only (ksqlDB EMIT FINAL, no grace; Flink's
                window TVF with a watermark at the event time)
  join          a stream-table join with a 1000-row table

Flink (PyFlink, local mini-cluster, parallelism 1 unless --parallelism) reads a JSON-lines file into its
`blackhole` sink. Weft's topics get --parallelism partitions, so a stateless query runs on as many threads
(one per partition, up to the machine's cores; aggregations and joins on one).
Weft runs as `weft serve` (a release build, default durability): the events are produced
over REST first (that rate is reported too), then each workload is a persistent query (CREATE ... AS
SELECT, from the earliest offset) timed until its committed input offsets reach the end of its input, which
is when all its output is durable.

Start-up is removed the same way for both: each workload runs on a small and on a large input and the rate
is (large - small) events / (large time - small time), so neither the JVM, the job graph nor the query's
start is counted. Everything is on loopback; nothing is written outside the work directory.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_TS = 1_600_000_000_000
KEYS = 1000
COUNTRIES = ["DE", "FR", "US", "BR"]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"


def event(i: int) -> tuple[str, str]:
    """The i-th event as (key, value JSON text), as crates/weft-sql/benches/sql.rs makes them."""
    key = f"user-{i % KEYS:05}"
    status = 404 if i % 4 == 0 else 200
    country = COUNTRIES[i % 4 // 2 + (1 if i % 3 == 0 else 0)]
    value = (
        f'{{"id":"{key}","user":"user-{i % KEYS:05}","ts":{BASE_TS + i * 10},'
        f'"url":"/products/category-{i % 17}/item-{i:06}","status":{status},"bytes":{1000 + i % 5000},'
        f'"country":"{country}","agent":"{AGENT}"}}'
    )
    return key, value


def user(i: int) -> tuple[str, str]:
    key = f"user-{i:05}"
    return key, f'{{"id":"{key}","name":"name {i}","tier":"gold"}}'


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (and waited-for children) included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def java_pid() -> int:
    """The JVM PyFlink started for this process."""
    for pid in descendants(os.getpid()):
        try:
            if b"java" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                return pid
        except OSError:
            continue
    raise SystemExit("PyFlink's JVM was not found among this process's children")


def write_jsonl(path: Path, rows) -> None:
    with path.open("w") as f:
        for _, value in rows:
            f.write(value)
            f.write("\n")


# ----------------------------------------------------------------------------------------------- Flink

FLINK_SOURCE = """CREATE TABLE {name} (
  id STRING, `user` STRING, ts BIGINT, url STRING, status INT, `bytes` BIGINT, country STRING, agent STRING,
  rowtime AS TO_TIMESTAMP_LTZ(ts, 3), WATERMARK FOR rowtime AS rowtime
) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"""

FLINK_USERS = """CREATE TABLE users (id STRING, name STRING, tier STRING)
WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"""

FLINK_SINKS = {
    "filter": "CREATE TABLE sink_filter (id STRING, url STRING, b2 BIGINT) WITH ('connector' = 'blackhole')",
    "changes": "CREATE TABLE sink_changes (id STRING, w BIGINT, c BIGINT, b BIGINT) WITH ('connector' = 'blackhole')",
    "final": "CREATE TABLE sink_final (id STRING, ws TIMESTAMP(3), we TIMESTAMP(3), c BIGINT, b BIGINT) "
    "WITH ('connector' = 'blackhole')",
    "join": "CREATE TABLE sink_join (id STRING, url STRING, name STRING, tier STRING) WITH ('connector' = 'blackhole')",
}

FLINK_QUERIES = {
    "filter": "INSERT INTO sink_filter SELECT id, url, `bytes` * 2 FROM {src} WHERE status = 200 AND country = 'DE'",
    "changes": "INSERT INTO sink_changes SELECT id, ts / 60000, COUNT(*), SUM(`bytes`) FROM {src} GROUP BY id, ts / 60000",
    "final": "INSERT INTO sink_final SELECT id, window_start, window_end, COUNT(*), SUM(`bytes`) "
    "FROM TABLE(TUMBLE(TABLE {src}, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE)) GROUP BY id, window_start, window_end",
    "join": "INSERT INTO sink_join SELECT p.id, p.url, u.name, u.tier FROM {src} p JOIN users u ON p.id = u.id",
}


def run_flink(workloads, sizes, files, users_file, parallelism):
    """(seconds, CPU seconds of the JVM) per (workload, size), every job in one JVM."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", str(parallelism))
    for size in sizes:
        env.execute_sql(FLINK_SOURCE.format(name=f"pv_{size}", path=files[size]))
    env.execute_sql(FLINK_USERS.format(path=users_file))
    for sink in FLINK_SINKS.values():
        env.execute_sql(sink)
    # A first job warms the JVM (class loading, code generation's caches) so the small run is not
    # paying for it alone.
    env.execute_sql(FLINK_QUERIES["filter"].format(src=f"pv_{sizes[0]}")).wait()
    jvm = java_pid()
    times = {}
    for workload in workloads:
        for size in sizes:
            start, cpu = time.perf_counter(), cpu_seconds(jvm)
            env.execute_sql(FLINK_QUERIES[workload].format(src=f"pv_{size}")).wait()
            times[(workload, size)] = (time.perf_counter() - start, cpu_seconds(jvm) - cpu)
            print(f"  flink {workload:<8} {size:>9} events: {times[(workload, size)][0]:.2f} s, "
                  f"{times[(workload, size)][1]:.2f} CPU s", flush=True)
    return times


# ------------------------------------------------------------------------------------------------ Weft

WEFT_DDL = (
    "CREATE STREAM PV_{size} (ID STRING KEY, USER STRING, TS BIGINT, URL STRING, STATUS INT, BYTES BIGINT, "
    "COUNTRY STRING, AGENT STRING) WITH (kafka_topic='pv_{size}', value_format='JSON', timestamp='TS');"
)
WEFT_USERS = (
    "CREATE TABLE USERS (ID STRING PRIMARY KEY, NAME STRING, TIER STRING) "
    "WITH (kafka_topic='users', value_format='JSON');"
)
WEFT_QUERIES = {
    "filter": "CREATE STREAM {out} AS SELECT ID, URL, BYTES * 2 AS B2 FROM {src} WHERE STATUS = 200 AND COUNTRY = 'DE';",
    "changes": "CREATE TABLE {out} AS SELECT ID, COUNT(*) AS C, SUM(BYTES) AS B FROM {src} "
    "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY ID EMIT CHANGES;",
    "final": "CREATE TABLE {out} AS SELECT ID, COUNT(*) AS C, SUM(BYTES) AS B FROM {src} "
    "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY ID EMIT FINAL;",
    "join": "CREATE STREAM {out} AS SELECT P.ID AS ID, P.URL, U.NAME, U.TIER FROM {src} P JOIN USERS U ON P.ID = U.ID;",
}


class Weft:
    """One `weft serve` on a free loopback port with its own data directory."""

    def __init__(self, binary: Path, data_dir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = (data_dir.parent / "weft-serve.log").open("w")
        self.process = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{self.port}",
             "--auth", "none", "--rate-limit", "0"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.conn = None
        deadline = time.time() + 60
        while True:
            try:
                self.request("GET", "/healthcheck")
                break
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"weft serve did not start; see {self.log.name}")
                time.sleep(0.1)

    def request(self, method: str, path: str, body: bytes | None = None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {"Host": "localhost"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn = None
            raise
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: HTTP {response.status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def ksql(self, statement: str):
        body = json.dumps({"ksql": statement, "streamsProperties": {"auto.offset.reset": "earliest"}})
        return self.request("POST", "/ksql", body.encode())

    def produce(self, topic: str, rows, partitions: int, batch: int = 1000) -> float:
        """Produces rows into a new topic of `partitions` partitions in requests of `batch` records;
        returns the seconds it took."""
        self.request("POST", "/api/v1/topics", json.dumps({"name": topic, "partitions": partitions}).encode())
        start = time.perf_counter()
        chunk = []
        for key, value in rows:
            chunk.append(f'{{"key":{json.dumps(key)},"value":{value}}}')
            if len(chunk) == batch:
                self.request("POST", f"/api/v1/topics/{topic}/records", ("[" + ",".join(chunk) + "]").encode())
                chunk = []
        if chunk:
            self.request("POST", f"/api/v1/topics/{topic}/records", ("[" + ",".join(chunk) + "]").encode())
        return time.perf_counter() - start

    def end_offset(self, topic: str) -> int:
        described = self.request("GET", f"/api/v1/topics/{topic}")
        return sum(p["latest_offset"] for p in described["partitions"])

    def query_id(self, sink: str) -> str:
        for query in self.ksql("SHOW QUERIES;")[0]["queries"]:
            if sink in query.get("sinks", []):
                return query["id"]
        raise SystemExit(f"no persistent query writes {sink}")

    def committed(self, group: str, topic: str) -> int:
        offsets = self.request("GET", f"/api/v1/groups/{group}/offsets")["offsets"]
        return sum(o["offset"] for o in offsets if o["topic"] == topic)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def run_weft(weft: Weft, workloads, sizes, ends):
    times = {}
    for workload in workloads:
        for size in sizes:
            out = f"OUT_{workload.upper()}_{size}"
            start, cpu = time.perf_counter(), cpu_seconds(weft.process.pid)
            weft.ksql(WEFT_QUERIES[workload].format(out=out, src=f"PV_{size}"))
            group = f"_weft_sql_{weft.query_id(out)}"
            while weft.committed(group, f"pv_{size}") < ends[size]:
                time.sleep(0.005)
            times[(workload, size)] = (time.perf_counter() - start, cpu_seconds(weft.process.pid) - cpu)
            print(f"  weft  {workload:<8} {size:>9} events: {times[(workload, size)][0]:.2f} s, "
                  f"{times[(workload, size)][1]:.2f} CPU s", flush=True)
            weft.ksql(f"TERMINATE {weft.query_id(out)};")
    return times


def rate(times, workload, small, large, which):
    """Events per second (which=0) or per CPU second (which=1), start-up removed."""
    elapsed = times[(workload, large)][which] - times[(workload, small)][which]
    return (large - small) / elapsed if elapsed > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weft", required=True, type=Path, help="the weft binary (a release build)")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--parallelism", type=int, default=1, help="Flink's parallelism")
    parser.add_argument("--workloads", default="filter,changes,final,join")
    parser.add_argument("--work-dir", type=Path, help="default: a temporary directory, removed at the end")
    parser.add_argument("--engines", default="flink,weft")
    args = parser.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WEFT_QUERIES:
            raise SystemExit(f"unknown workload '{w}' (known: {', '.join(WEFT_QUERIES)})")
    sizes = [args.small, args.large]
    if args.small >= args.large:
        raise SystemExit("--small must be below --large")
    engines = args.engines.split(",")

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="weft-vs-flink-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        files = {}
        for size in sizes:
            files[size] = work / f"events-{size}.jsonl"
            write_jsonl(files[size], (event(i) for i in range(size)))
        users_file = work / "users.jsonl"
        write_jsonl(users_file, (user(i) for i in range(KEYS)))
        avg = files[args.large].stat().st_size / args.large
        print(f"events: {args.small} and {args.large}, {avg:.0f} bytes each on average, {KEYS} keys")

        flink = weft_times = None
        if "flink" in engines:
            print(f"Flink (PyFlink, parallelism {args.parallelism}):", flush=True)
            flink = run_flink(workloads, sizes, files, users_file, args.parallelism)
        if "weft" in engines:
            print("Weft (weft serve, persistent queries):", flush=True)
            weft = Weft(args.weft, work / "weft-data")
            try:
                ends = {}
                for size in sizes:
                    seconds = weft.produce(f"pv_{size}", (event(i) for i in range(size)), args.parallelism)
                    weft.ksql(WEFT_DDL.format(size=size))
                    ends[size] = size
                    print(f"  produced {size} events over REST in {seconds:.2f} s = {size / seconds:,.0f} records/s"
                          " (one connection, 1000 records per request, including the client's own JSON work)")
                weft.produce("users", (user(i) for i in range(KEYS)), args.parallelism)
                weft.ksql(WEFT_USERS)
                weft_times = run_weft(weft, workloads, sizes, ends)
            finally:
                weft.stop()

        print()
        print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        # Wall time is what users feel; CPU time is what a busy machine cannot blur.
        print(f"{'workload':<10} {'Flink events/s':>15} {'Weft events/s':>15} {'Weft / Flink':>13}"
              f" {'Flink ev/CPU-s':>15} {'Weft ev/CPU-s':>15} {'Weft / Flink':>13}")
        for w in workloads:
            cells = []
            for which in (0, 1):
                f = rate(flink, w, *sizes, which) if flink else None
                t = rate(weft_times, w, *sizes, which) if weft_times else None
                ratio = f"{t / f:.2f}" if f and t else "-"
                cells.append(f"{f or 0:>15,.0f} {t or 0:>15,.0f} {ratio:>13}")
            print(f"{w:<10} {' '.join(cells)}")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
