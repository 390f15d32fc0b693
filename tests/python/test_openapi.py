"""Weft's OpenAPI document, checked by tools that know the standard.

Usage: test_openapi.py BASE_URL   (e.g. http://127.0.0.1:8080; the server answers Host: localhost)

1. openapi-spec-validator validates the document served at /api/v1/openapi.json against the
   OpenAPI 3.1 specification (its JSON Schema and the rules it adds, such as unique operationIds).
2. schemathesis calls every /api/v1 operation of the document against the live server with
   generated requests (a fixed number per operation, a fixed seed) and fails on any 5xx and on any
   response the document does not describe: status code, content type or body schema.

Run by crates/weft-server/tests/openapi_conformance.rs on a seeded server; exits non-zero on failure.
"""

import json
import subprocess
import sys
import time
import urllib.request

from openapi_spec_validator import validate

# Enough to reach every documented refusal and the seeded objects, yet about a minute on two cores.
MAX_EXAMPLES = 10
SEED = 17
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main():
    base = sys.argv[1].rstrip("/")
    request = urllib.request.Request(f"{base}/api/v1/openapi.json", headers={"Host": "localhost"})
    with urllib.request.urlopen(request, timeout=30) as response:
        document = json.load(response)
    validate(document)
    print(f"ok: openapi-spec-validator accepts the document ({len(document['paths'])} paths)")

    started = time.monotonic()
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
        "--url", base,
        "--header", "Host: localhost",
        "--checks", CHECKS,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--phases", "examples,coverage,fuzzing",
        "--workers", "2",
        "--request-timeout", "10",
        "--no-color",
    ]
    result = subprocess.run(command, check=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"schemathesis found responses that break the document ({elapsed:.0f} s); its report is above")
    print(f"ok: schemathesis found no server error and no response outside the document ({elapsed:.0f} s)")
    print("all OpenAPI checks passed")


if __name__ == "__main__":
    main()
