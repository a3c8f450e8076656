#!/usr/bin/env python3
"""Predict every SMILES in a CSV file through the site's JSON API (standard library only).

    python scripts/predict_csv.py molecules.csv predicted.csv \
        --url http://127.0.0.1:8000 --token "$SMILES_API_TOKEN" --column smiles

Each input row is written out with its columns, then canonical_smiles, one column per
output ("label (unit)"), the prediction's id and url, and error (why RDKit refused it).
Rows are sent 100 at a time (the API's default limit per call). Without a token the
anonymous rate limit applies: on HTTP 429 the script waits as told and goes on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import urllib.error
import urllib.request


def post_json(url: str, body: dict, token: str = "") -> dict:
    """POST JSON; waits and retries on 429; raises SystemExit with the API's message otherwise."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode("utf-8")
    while True:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            payload = json.loads(error.read() or b"{}").get("error", {})
            if error.code == 429:
                time.sleep(payload.get("details", {}).get("retry_after_seconds", 5))
                continue
            raise SystemExit(f"HTTP {error.code}: {payload.get('message', error.reason)}") from None


def output_name(output: dict) -> str:
    return f"{output['label']} ({output['unit']})" if output.get("unit") else output["label"]


def predict_rows(rows: list[dict], column: str, url: str, token: str, size: int) -> list[dict]:
    out = []
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        body = {"smiles": [row.get(column) or "" for row in chunk]}
        results = post_json(url.rstrip("/") + "/api/v1/predict", body, token)["results"]
        for row, result in zip(chunk, results):
            record = dict(row)
            if result["ok"]:
                prediction = result["prediction"]
                record["canonical_smiles"] = prediction["canonical_smiles"]
                for output in prediction["outputs"]:
                    record[output_name(output)] = output["value"]
                record.update(prediction_id=prediction["id"], url=prediction["url"], error="")
            else:
                record["error"] = result["error"]
            out.append(record)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="CSV file with a SMILES column")
    parser.add_argument("output", help="CSV file to write")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the site's base URL")
    parser.add_argument("--token", default="", help="API token (lifts the rate limit)")
    parser.add_argument("--column", default="smiles", help="name of the SMILES column")
    parser.add_argument("--per-call", type=int, default=100, help="molecules per API call")
    args = parser.parse_args(argv)
    with open(args.input, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if rows and args.column not in rows[0]:
        parser.error(f"no column {args.column!r}; columns: {', '.join(rows[0])}")
    out = predict_rows(rows, args.column, args.url, args.token, args.per_call)
    fields = list(dict.fromkeys(key for record in out for key in record))
    with open(args.output, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out)
    failed = sum(1 for record in out if record.get("error"))
    print(f"{len(out)} rows, {len(out) - failed} predicted, {failed} refused → {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
