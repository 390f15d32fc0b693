"""ksql-python-ng (ksqlDB's Python client) against a Weft server over HTTP/2 cleartext.

Run by crates/weft-server/tests/ksql_python_client.rs as `python test_ksql_client.py URL`; prints
"checks passed" when every check holds. The client insists on HTTP/2 (`httpx.Client(http2=True,
http1=False)`) for `query(use_http2=True)` and `inserts_stream`.
"""

import json
import sys
import time

from ksql import KSQLAPI


def lines_of(chunks):
    """The non-blank lines of a streamed answer, whatever its chunks' boundaries."""
    text = "".join(chunks)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(url):
    client = KSQLAPI(url)  # asks /info first
    client.ksql(
        "CREATE STREAM PY_ORDERS (ID STRING, QTY INT) "
        "WITH (kafka_topic='py_orders', value_format='JSON', partitions=1);"
    )

    # inserts_stream over HTTP/2: one acknowledgement per row, a bad row refused alone.
    acks = client.inserts_stream(
        "PY_ORDERS",
        [{"ID": "a", "QTY": 1}, {"ID": "b", "QTY": "not a number"}, {"ID": "a", "QTY": 4}],
    )
    assert [(a["status"], a["seq"]) for a in acks] == [("ok", 0), ("error", 1), ("ok", 2)], acks
    assert "QTY" in acks[1]["message"], acks[1]

    # A push query over HTTP/2 with ksqlDB's full property name: it starts at the earliest rows
    # (written before it) and ends at its LIMIT.
    chunks = client.query(
        "SELECT ID, QTY FROM PY_ORDERS EMIT CHANGES LIMIT 2;",
        use_http2=True,
        stream_properties={"ksql.streams.auto.offset.reset": "earliest"},
    )
    items = lines_of(chunks)
    assert items[0]["columnNames"] == ["ID", "QTY"], items
    assert items[0]["queryId"], items
    assert items[1:] == [["a", 1], ["a", 4]], items

    # A push query without a LIMIT ends when the client closes it (close_query sends its body with no
    # content type, over HTTP/1.1).
    stream = client.query(
        "SELECT ID, QTY FROM PY_ORDERS EMIT CHANGES;",
        use_http2=True,
        stream_properties={"ksql.streams.auto.offset.reset": "earliest"},
    )
    text = ""
    while "\n" not in text:
        text += next(stream)
    header = json.loads(text.split("\n", 1)[0])
    assert client.close_query(header["queryId"]) is True, header
    rest = lines_of([text.split("\n", 1)[1]] + list(stream))  # ends once the server closed it
    assert all(row[0] == "a" for row in rest), rest

    # A pull query over HTTP/2, on a table a persistent query keeps.
    client.ksql(
        "CREATE TABLE PY_TOTALS AS SELECT ID, SUM(QTY) AS TOTAL FROM PY_ORDERS GROUP BY ID;",
        stream_properties={"ksql.streams.auto.offset.reset": "earliest"},
    )
    for _ in range(100):
        items = lines_of(client.query("SELECT ID, TOTAL FROM PY_TOTALS WHERE ID = 'a';", use_http2=True))
        if items[1:] == [["a", 5]]:
            break
        time.sleep(0.1)
    assert "queryId" not in items[0], items
    assert items[0]["columnNames"] == ["ID", "TOTAL"], items
    assert items[1:] == [["a", 5]], items
    print("checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
