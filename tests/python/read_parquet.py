"""Reads a Parquet file with pyarrow and prints, as one JSON object, its columns' Arrow types and
nullability, its rows (bytes as hex; timestamps, dates and decimals as their ISO or decimal text;
maps as lists of [key, value]) and the `weft.export.unfit` key-value metadata.

Usage: read_parquet.py FILE (run by crates/weft-server/tests/export_pyarrow.rs)."""

import datetime
import decimal
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def describe(arrow_type):
    """An Arrow type as text, nested fields with their names and `not null` (pyarrow's own text of a
    map names its Parquet group instead)."""

    def field(f, named=True):
        text = describe(f.type) + ("" if f.nullable else " not null")
        return f"{f.name}: {text}" if named else text

    if pa.types.is_map(arrow_type):
        return f"map<{describe(arrow_type.key_type)}, {field(arrow_type.item_field, named=False)}>"
    if pa.types.is_list(arrow_type):
        return f"list<{field(arrow_type.value_field)}>"
    if pa.types.is_struct(arrow_type):
        return "struct<" + ", ".join(field(arrow_type.field(i)) for i in range(arrow_type.num_fields)) + ">"
    return str(arrow_type)


def plain(value):
    if isinstance(value, (bytes, bytearray)):
        return {"hex": value.hex()}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def main():
    path = sys.argv[1]
    table = pq.read_table(path)
    metadata = pq.read_metadata(path).metadata or {}
    print(json.dumps({
        "types": {field.name: describe(field.type) for field in table.schema},
        "nullable": {field.name: field.nullable for field in table.schema},
        "rows": [plain(row) for row in table.to_pylist()],
        "unfit": metadata.get(b"weft.export.unfit", b"").decode(),
    }))


if __name__ == "__main__":
    main()
