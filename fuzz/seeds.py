#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the project's own test inputs (SQL
cases, schemas of the schema and registry tests, ODPS documents of the catalog tests) plus a few
hand-written inputs per target. scripts/fuzz runs it before every run, so the seeds follow the tests;
its output is not committed (it is derived from the tests).
Deterministic: the same sources give the same files (named by a hash of their content)."""

import glob
import hashlib
import json
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
# Seeds per target at most: enough variety to start from, few enough to load in a second.
MAX_SEEDS = 300


def sources(pattern):
    return sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True))


def raw_strings(path):
    """The raw string literals (r"..." and r#"..."#) of a Rust file."""
    text = open(path, encoding="utf-8").read()
    return [m.group(2) for m in re.finditer(r'\br(#*)"(.*?)"\1', text, re.S)]


def plain_strings(path):
    """The ordinary string literals of a Rust file, with their escapes read."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in re.finditer(r'(?<![r#\w])"((?:[^"\\]|\\.)*)"', text):
        try:
            out.append(json.loads('"' + m.group(1).replace("\\\n", "") + '"'))
        except ValueError:
            pass
    return out


def json_macros(path):
    """The arguments of json!(...) in a Rust file that are plain JSON."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"json!\(", text):
        depth, i = 0, m.end()
        start = i
        in_string = False
        while i < len(text):
            ch = text[i]
            if in_string:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        candidate = re.sub(r",(\s*[}\]])", r"\1", text[start:i])
        try:
            out.append(json.loads(candidate))
        except ValueError:
            pass
    return out


def parses_as_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def write(target, seeds):
    directory = os.path.join(CORPUS, target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    unique = sorted({s if isinstance(s, bytes) else s.encode("utf-8") for s in seeds})
    if len(unique) > MAX_SEEDS:
        step = len(unique) / MAX_SEEDS
        unique = [unique[int(i * step)] for i in range(MAX_SEEDS)]
    for seed in unique:
        name = hashlib.sha1(seed).hexdigest()[:16]
        with open(os.path.join(directory, name), "wb") as f:
            f.write(seed)
    print(f"{target}: {len(unique)} seeds, {sum(len(s) for s in unique)} bytes")


# ----- SQL -----

def sql_cases():
    for path in sources("crates/weft-sql/tests/cases/*.json"):
        for test in json.load(open(path, encoding="utf-8"))["tests"]:
            yield test


def sql_parse_seeds():
    seeds = []
    for test in sql_cases():
        seeds.extend(test.get("statements", []))
        seeds.extend(p["sql"] for p in test.get("pull", []))
    seeds.append("SELECT 1+1+1+1+1 AS X FROM S WHERE A=1 OR A=2 OR A=3 EMIT CHANGES;")
    seeds.append("SELECT B->F->G->H, A[1][2], M['k'] FROM S;")
    return seeds


# Hand-written queries over the sql_eval fixture (`S` and `TB`, see fuzz_targets/sql_eval.rs).
SQL_EVAL = [
    "SELECT * FROM S;",
    "SELECT * FROM S EMIT CHANGES;",
    "SELECT * FROM TB;",
    "SELECT K, A + B * C - I / V % 3 AS R FROM S EMIT CHANGES;",
    "SELECT L * V0, D / X, DC * 2, DC / 3, -DC, A / 0, L % 0 FROM S;",
    "SELECT CAST(A AS BIGINT), CAST(D AS INT), CAST(S AS DOUBLE), CAST(DC AS STRING), CAST(TS AS DATE), CAST(NAME AS DATE), CAST(D AS DECIMAL(4, 1)) FROM S;",
    "SELECT CASE WHEN A > 1 THEN 'x' WHEN B IS NULL THEN 'y' ELSE S END FROM S WHERE NOT BO OR BO IS NULL;",
    "SELECT A BETWEEN 1 AND 3, S LIKE 'h%o_%' ESCAPE '\\', NAME IN ('alice', 'bob', NULL), D NOT BETWEEN -1 AND 1 FROM S;",
    "SELECT ST->X, ST->Z[1], AI[1], AI[-1], ARR[0], M['k'], M[S] FROM S;",
    "SELECT ARRAY[A, B, C], MAP('a' := A, 'b' := B), STRUCT(X := A, Y := S) FROM S;",
    "SELECT UCASE(S), LCASE(S), LEN(S), TRIM(S), LTRIM(S), RTRIM(S), INITCAP(S), CONCAT(S, N, NAME), CONCAT_WS('-', S, N) FROM S;",
    "SELECT SUBSTRING(S, 2), SUBSTRING(S, -3, 2), REPLACE(S, 'l', 'LL'), INSTR(S, 'o'), LPAD(S, 20, 'ab'), RPAD(S, 3, ''), SPLIT(S, ','), SPLIT(S, '') FROM S;",
    "SELECT CHR(A), CHR(65), ELT(2, 'a', 'b'), FIELD(S, 'x', 'hello, world'), MASK(S), IS_JSON_STRING(J), EXTRACTJSONFIELD(J, '$.a.b'), EXTRACTJSONFIELD(J, '$.items[1].id') FROM S;",
    "SELECT JSON_ARRAY_LENGTH(J), JSON_KEYS(J), JSON_RECORDS(J) FROM S;",
    "SELECT ABS(A), ABS(D), ROUND(D), ROUND(D, 1), ROUND(DC, -1), CEIL(D), FLOOR(DC), SQRT(A), CBRT(D), POWER(A, 2), EXP(D), LN(D), LOG(D), SIGN(X) FROM S;",
    "SELECT SIN(D), COS(D), TAN(D), ASIN(X), ACOS(X), ATAN(X), ATAN2(D, X), DEGREES(PI()), RADIANS(180), RANDOM() < 2 FROM S;",
    "SELECT GREATEST(A, B, C), LEAST(D, X), COALESCE(N, S, 'none'), IFNULL(A, -1), NULLIF(A, 0) FROM S;",
    "SELECT TIMESTAMPTOSTRING(T, 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC'), FORMAT_TIMESTAMP(TS, 'yyyy-MM-dd''T''HH:mm:ssXXX', '+02:00'), STRINGTOTIMESTAMP(NAME, 'yyyy-MM-dd') FROM S;",
    "SELECT PARSE_TIMESTAMP(S, 'yyyy-MM-dd HH:mm'), PARSE_DATE(NAME, 'yyyy-MM-dd'), FORMAT_DATE(DT, 'dd/MM/yyyy'), DATETOSTRING(19000, 'yyyy-MM-dd'), STRINGTODATE(NAME, 'yyyy-MM-dd') FROM S;",
    "SELECT UNIX_TIMESTAMP(), UNIX_TIMESTAMP(TS), UNIX_DATE(DT), FROM_UNIXTIME(L), FROM_DAYS(A) FROM S;",
    "SELECT TIMESTAMPADD(SECONDS, 5, TS), TIMESTAMPSUB(DAYS, A, TS), DATEADD(DAYS, 1, DT), DATESUB(DAYS, A, DT), TIMEADD(HOURS, 2, TM), TIMESUB(MINUTES, 1, TM) FROM S;",
    "SELECT ARRAY_LENGTH(ARR), ARRAY_CONTAINS(ARR, 'b'), ARRAY_DISTINCT(ARR), ARRAY_EXCEPT(AI, ARRAY[1]), ARRAY_INTERSECT(AI, ARRAY[2, 3]), ARRAY_UNION(ARR, ARR) FROM S;",
    "SELECT ARRAY_JOIN(ARR, ','), ARRAY_MAX(AI), ARRAY_MIN(AI), ARRAY_REMOVE(AI, 1), ARRAY_SORT(AI, 'DESC'), ARRAY_CONCAT(AI, AI), SLICE(AI, 1, 2) FROM S;",
    "SELECT AS_MAP(ARR, AI), MAP_KEYS(M), MAP_VALUES(M), MAP_UNION(M, MAP('z' := 1)) FROM S;",
    "SELECT GENERATE_SERIES(1, 5), GENERATE_SERIES(1, 10, 3) FROM S;",
    "SELECT K, EXPLODE(AI) AS E, EXPLODE(ARR) AS F FROM S EMIT CHANGES;",
    "SELECT K, COUNT(*), SUM(A), AVG(D), MIN(S), MAX(DC) FROM S GROUP BY K EMIT CHANGES;",
    "SELECT NAME, COUNT_DISTINCT(A), LATEST_BY_OFFSET(S), EARLIEST_BY_OFFSET(D), COLLECT_LIST(A), COLLECT_SET(S), TOPK(A, 2) FROM S GROUP BY NAME EMIT CHANGES;",
    "SELECT K, COUNT(*) FROM S WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY K EMIT CHANGES;",
    "SELECT K, SUM(L) FROM S WINDOW HOPPING (SIZE 2 SECONDS, ADVANCE BY 1 SECOND) GROUP BY K HAVING SUM(L) > 0 EMIT CHANGES;",
    "SELECT K, MAX(TS) FROM S WINDOW SESSION (5 SECONDS) GROUP BY K EMIT CHANGES;",
    "SELECT S.K, TB.NAME, TB.V FROM S JOIN TB ON S.K = TB.ID EMIT CHANGES;",
    "SELECT S.K, TB.NAME FROM S LEFT JOIN TB ON S.ID = TB.ID WHERE TB.V IS NULL EMIT CHANGES;",
    "SELECT * FROM S A JOIN S B WITHIN 1 HOUR ON A.K = B.K EMIT CHANGES;",
    "SELECT K, ROWTIME, ROWPARTITION, ROWOFFSET FROM S EMIT CHANGES LIMIT 2;",
    "SELECT * FROM S PARTITION BY S EMIT CHANGES;",
    "SELECT * FROM TB WHERE ID = 'a';",
    "SELECT NAME, V * 2 FROM TB WHERE V > 0;",
    "CREATE STREAM OUT AS SELECT K, A + 1 AS R FROM S;",
    "CREATE TABLE AGG AS SELECT K, COUNT(*) AS C FROM S GROUP BY K;",
    "INSERT INTO S SELECT * FROM S;",
    "EXPLAIN SELECT K, A FROM S WHERE A > 1 EMIT CHANGES;",
]


def sql_eval_seeds():
    seeds = list(SQL_EVAL)
    for test in sql_cases():
        queries = [p["sql"] for p in test.get("pull", [])]
        for statement in test.get("statements", []):
            m = re.search(r"\bAS\s+(SELECT\b.*)$", statement, re.S | re.I)
            if statement.upper().startswith("CREATE") and m:
                queries.append(m.group(1))
            elif statement.upper().startswith(("SELECT", "INSERT INTO")) and "VALUES" not in statement.upper():
                queries.append(statement)
        for query in queries:
            # The case's first source becomes S, the fixture's stream.
            seeds.append(re.sub(r"\bFROM\s+\w+", "FROM S", query, count=1, flags=re.I))
    return seeds


# ----- Avro -----

def avro_schema_seeds():
    seeds = []
    for pattern in [
        "crates/weft-schema/src/avro/*.rs",
        "crates/weft-schema/tests/*.rs",
        "crates/weft-registry/src/**/*.rs",
        "crates/weft-registry/tests/*.rs",
        "crates/weft-sql/src/avro.rs",
        "crates/weft-sql/tests/*.rs",
        "crates/weft-mesh/src/*.rs",
    ]:
        for path in sources(pattern):
            for text in raw_strings(path):
                if parses_as_json(text) and '"type"' in text:
                    seeds.append(text)
    for schema in ["\"int\"", "\"null\"", "[\"null\",\"string\"]", "{\"type\":\"map\",\"values\":\"bytes\"}"]:
        seeds.append(schema)
    # References: the referenced schemas, a NUL each, then the schema.
    address = '{"type":"record","name":"Address","namespace":"a","fields":[{"name":"street","type":"string"}]}'
    seeds.append(address + "\0" + '{"type":"record","name":"Customer","fields":[{"name":"home","type":"a.Address"},{"name":"work","type":["null","a.Address"],"default":null}]}')
    seeds.append(address + "\0" + '{"type":"enum","name":"E","namespace":"b","symbols":["X"]}' + "\0" + '["a.Address","b.E"]')
    return seeds


def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def avro_string(s):
    data = s.encode("utf-8") if isinstance(s, str) else s
    return zigzag(len(data)) + data


def avro_block(items):
    """An array or map of already encoded items: one block, then the end."""
    if not items:
        return zigzag(0)
    return zigzag(len(items)) + b"".join(items) + zigzag(0)


def avro_datum_seeds():
    # Selectors: schema index << 1, plus 1 for JSON. The schemas are SCHEMAS of fuzz_targets/avro_datum.rs.
    def binary(schema, payload):
        return bytes([schema << 1]) + payload

    def as_json(schema, value):
        return bytes([(schema << 1) | 1]) + json.dumps(value).encode("utf-8")

    order = (
        avro_string("o-1") + struct.pack("<d", 12.5) + zigzag(3) + zigzag(1 << 40) + struct.pack("<f", 0.5) + b"\x01"
        + zigzag(1) + avro_string("SAVE") + zigzag(1)
        + avro_block([avro_string("a"), avro_string("b")])
        + avro_block([avro_string("k") + zigzag(1) + zigzag(-5), avro_string("n") + zigzag(0)])
        + bytes(range(16)) + avro_string(b"\x00\xff")
    )
    logical = (
        avro_string(b"\x04\xd2") + b"\x00" * 7 + b"\x2a" + avro_string("123e4567-e89b-12d3-a456-426614174000")
        + zigzag(19000) + zigzag(3600000) + zigzag(3600000000) + zigzag(1700000000000) + zigzag(1700000000000000)
        + zigzag(0) + bytes(12)
    )
    leaf = zigzag(7) + avro_block([]) + zigzag(0)
    node = zigzag(1) + avro_block([leaf, leaf]) + zigzag(1) + leaf
    seeds = [
        binary(0, order),
        binary(1, logical),
        binary(2, leaf),
        binary(2, node),
        binary(3, zigzag(0)),
        binary(3, zigzag(2) + zigzag(-1)),
        binary(3, zigzag(7) + avro_string("text")),
        binary(3, zigzag(8) + zigzag(-2) + zigzag(1) + zigzag(0) + zigzag(2) + zigzag(0)),
        binary(3, zigzag(10) + zigzag(5)),
        binary(4, avro_block([avro_string("k") + avro_block([avro_block([avro_string("a") + avro_string("b")])])])),
        # A negative block count carries the block's size in bytes (Avro spec: "Arrays").
        binary(4, zigzag(-1) + zigzag(5) + avro_string("k") + zigzag(0) + zigzag(0)),
        binary(5, avro_string("hello")),
        as_json(0, {"id": "o-1", "amount": 12.5, "total": 1, "ratio": 0.5, "paid": True, "coupon": {"string": "x"},
                    "status": "PAID", "tags": ["a"], "attrs": {"k": 1, "n": None}, "digest": "\u0000" * 16, "blob": "\u00ff"}),
        as_json(1, {"price": "\u0004\u00d2", "fixedPrice": "\u0000" * 8, "uuid": "123e4567-e89b-12d3-a456-426614174000",
                    "day": 1, "timeMillis": 2, "timeMicros": 3, "tsMillis": 4, "tsMicros": 5, "local": 6, "duration": "\u0000" * 12}),
        as_json(2, {"value": 1, "children": [{"value": 2, "children": [], "next": None}], "next": {"Node": {"value": 3, "children": []}}}),
        as_json(3, None), as_json(3, 5), as_json(3, 2.5), as_json(3, "s"), as_json(3, [1, None]), as_json(3, {"R": {"a": 1}}),
        as_json(3, {"E": "A"}), as_json(3, {"map": {"x": 1.5}}),
        as_json(4, {"k": [{"a": "b"}, {}]}),
        as_json(5, "hello"),
    ]
    return seeds


# ----- JSON Schema -----

def json_schema_seeds():
    documents = []
    for pattern in [
        "crates/weft-schema/src/json_schema/*.rs",
        "crates/weft-registry/src/compat/json_schema/*.rs",
        "crates/weft-registry/src/compat/json_schema.rs",
        "crates/weft-mesh/src/*.rs",
    ]:
        for path in sources(pattern):
            documents.extend(json_macros(path))
            documents.extend(json.loads(t) for t in raw_strings(path) if parses_as_json(t))
    keywords = ("type", "properties", "$ref", "enum", "const", "items", "anyOf", "oneOf", "allOf", "not", "$schema")
    schemas = [d for d in documents if isinstance(d, dict) and any(k in d for k in keywords)]
    payloads = [d for d in documents if d not in schemas][:40] + [None, True, 0, 1.5, "x", [], {}]
    seeds = []
    for i, schema in enumerate(schemas):
        text = json.dumps(schema, separators=(",", ":"))
        seeds.append(text)
        for payload in payloads[i % len(payloads):][:2]:
            seeds.append(text + "\0" + json.dumps(payload))
    return seeds


# ----- ODPS -----

def odps_seeds():
    seeds = []
    for pattern in ["crates/weft-catalog/tests/**/*.rs", "crates/weft-catalog/src/*.rs", "crates/weft-server/tests/*.rs", "crates/weft/src/*.rs"]:
        for path in sources(pattern):
            for text in raw_strings(path) + plain_strings(path):
                if "kind:" in text or "apiVersion:" in text:
                    seeds.append(text)
    seeds.append("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nkind: DataProduct\n")
    seeds.append("apiVersion: v1.0.0\nkind: DataProduct\nid: a.b\n<<: {x: 1}\nlist: [yes, 0755, 1_000, .inf, ~]\n")
    return seeds


# ----- produce -----

def produce_seeds():
    bodies = [
        [{"key": "k", "value": {"id": "o-1", "amount": "\u0004\u00d2", "placed": 1, "status": "NEW", "lines": [{"sku": "s", "price": 1.5}]}}],
        [{"key": {"id": 1}, "value": {"id": "o-2", "amount": 12.5, "tags": ["a", "b"], "customer": {"email": "a@b.org"}, "kind": "a"}}],
        [{"value": {"id": "o-3", "amount": "\u0000", "quantity": 2, "placed": 0, "coupon": {"string": "x"}, "status": "PAID", "lines": [], "attributes": {"a": "b"}}, "partition": 1}],
        [{"key": None, "value": None, "headers": {"h": "v", "n": None}, "timestamp": 1700000000000}],
        [{"key": 42, "value": [1, 2, 3]}, {"key": [1], "value": "text"}, {"key": True, "value": 1e300}],
        [{"key": "\u00e9\u2603", "value": {"id": "o-\u0000", "customer": {"anonymous": True}}}],
        [],
        [{"value": {"id": "o-4", "amount": 0.01, "tags": ["x", "x"]}}],
    ]
    return [json.dumps(body) for body in bodies]


def sql_dictionary():
    """Tokens for libFuzzer's -dict: the parser's keywords, the functions, the fixture's columns."""
    functions = open(os.path.join(ROOT, "crates/weft-sql/src/functions.rs"), encoding="utf-8").read()
    parser = open(os.path.join(ROOT, "crates/weft-sql/src/parser.rs"), encoding="utf-8").read()
    words = set(re.findall(r'^    "([A-Z_0-9]+)",$', functions + parser, re.M))
    words |= set(re.findall(r'"([A-Z_]{2,})"', parser))
    words |= {"EXPLODE", "EMIT CHANGES", "GROUP BY", "PARTITION BY", "WINDOW TUMBLING (SIZE 1 SECOND)", "SECONDS",
              "DECIMAL(4, 2)", "ARRAY<INT>", "MAP<STRING, INT>", "STRUCT<A INT>", "BIGINT", "DOUBLE", "BYTES",
              "TIMESTAMP", "DATE", "TIME", "BOOLEAN", "STRING", "INT", "ROWTIME", "ROWPARTITION", "ROWOFFSET",
              "WINDOWSTART", "WINDOWEND"}
    columns = ["K", "ID", "A", "B", "C", "I", "V", "L", "V0", "D", "X", "DC", "S", "N", "NAME", "J", "BO", "BY",
               "T", "TS", "DT", "TM", "ARR", "AI", "M", "ST", "ST->X", "ST->Z", "TB", "TB.V"]
    symbols = ["->", ":=", "||", "<>", "!=", "<=", ">=", "''", "'%'", "'\\\\'", "-9223372036854775808", "2147483648",
               "1e308", "99999999999999999999.99", "NULL", "(", ")", "[", "]", ","]
    lines = [f'"{w}"' for w in sorted(words | set(columns))] + [f'"{s}"' for s in symbols]
    with open(os.path.join(ROOT, "fuzz", "sql.dict"), "w", encoding="utf-8") as f:
        f.write("# libFuzzer dictionary for the SQL targets; written by fuzz/seeds.py.\n")
        f.write("\n".join(lines) + "\n")
    print(f"sql.dict: {len(lines)} tokens")


def main():
    sql_dictionary()
    write("sql_parse", sql_parse_seeds())
    write("sql_eval", sql_eval_seeds())
    write("avro_schema", avro_schema_seeds())
    write("avro_datum", avro_datum_seeds())
    write("json_schema", json_schema_seeds())
    write("odps", odps_seeds())
    write("produce", produce_seeds())


if __name__ == "__main__":
    main()
