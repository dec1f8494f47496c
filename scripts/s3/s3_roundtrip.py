"""Object-storage round trip against a local S3-compatible server (moto, on 127.0.0.1).

Uploads the shipped sample to a bucket, then checks, with restock reading and writing only
s3:// URLs:
  1. a nightly run equals the same run on local files byte for byte (every file but the
     manifest), and its manifest names the s3:// inputs;
  2. the next run finds the previous one through the remote `latest` pointer (drift
     monitoring), and the run history grows to two rows;
  3. a run with a missing input exits with code 4 and uploads nothing (`latest` unchanged);
  4. two shards written to S3 and merged from S3 equal the single run;
  5. with S3 inputs a shard still writes to (and reports) a local folder, and shards on S3
     merge into a local `out`.
Exits non-zero on the first failed check.

    python scripts/s3/s3_roundtrip.py --restock target/debug/restock --pipeline pipelines/sample.toml
"""
import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile

import boto3
from moto.server import ThreadedMotoServer

BUCKET = "restock-test"
INPUTS = {
    "orders": "orders.parquet",
    "returns": "returns.parquet",
    "stock": "stock.parquet",
    "products": "products.parquet",
    "suppliers": "suppliers.parquet",
    "open-pos": "open_pos.parquet",
    "promotions": "promotions.parquet",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(msg):
    print(f"s3_roundtrip: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restock", required=True)
    ap.add_argument("--pipeline", default="pipelines/sample.toml")
    ap.add_argument("--samples", default="data-samples")
    a = ap.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_REGION": "us-east-1", "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true"}
    env = {**os.environ, **creds, "RESTOCK_LOG": "warn"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket=BUCKET)
    for f in list(INPUTS.values()) + ["overrides.csv"]:
        s3.upload_file(os.path.join(a.samples, f), BUCKET, f"in/{f}")

    def remote_args(orders="orders.parquet"):
        args = []
        for flag, f in INPUTS.items():
            f = orders if flag == "orders" else f
            args += [f"--{flag}", f"s3://{BUCKET}/in/{f}"]
        return args + ["--set", f'inputs.overrides.path="s3://{BUCKET}/in/overrides.csv"']

    def restock(*args, check=True):
        r = subprocess.run([a.restock, *args], env=env, capture_output=True, text=True)
        if check and r.returncode != 0:
            fail(f"restock {' '.join(args)} exited {r.returncode}: {r.stderr[-2000:]}")
        return r

    def get(key):
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def keys(prefix):
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "local")
        restock("run", "--pipeline", a.pipeline, "--out", local)
        ref = os.path.realpath(os.path.join(local, "latest"))
        ref_files = sorted(f for f in os.listdir(ref) if f != "manifest.json")

        def same_as_local(prefix, what):
            got = {k[len(prefix):]: k for k in keys(prefix)}
            names = sorted(n for n in got if n != "manifest.json")
            if names != ref_files:
                fail(f"{what}: files {names} != local {ref_files}")
            for n in names:
                with open(os.path.join(ref, n), "rb") as fh:
                    if get(got[n]) != fh.read():
                        fail(f"{what}: {n} differs from the local run")
            if "manifest.json" not in got:
                fail(f"{what}: no manifest.json")
            return json.loads(get(got["manifest.json"]))

        # 1. Nightly run, s3 in and out.
        out = f"s3://{BUCKET}/runs/sample"
        r = restock("run", "--pipeline", a.pipeline, *remote_args(), "--out", out)
        first = get("runs/sample/latest").decode().strip()
        if f"{out}/{first}" not in r.stdout:
            fail(f"run did not report its URL: {r.stdout}")
        m = same_as_local(f"runs/sample/{first}/", "remote run")
        paths = [i["path"] for i in m["inputs"]]
        if not all(p.startswith(f"s3://{BUCKET}/in/") for p in paths):
            fail(f"manifest inputs are not the s3 URLs: {paths}")
        print(f"s3_roundtrip: run {first}: {len(ref_files) + 1} objects, equal to the local run")

        # 2. Second run sees the first through `latest`.
        restock("run", "--pipeline", a.pipeline, *remote_args(), "--out", out)
        second = get("runs/sample/latest").decode().strip()
        if second == first:
            fail("second run did not move latest")
        m2 = json.loads(get(f"runs/sample/{second}/manifest.json"))
        prev = (m2.get("previous_run_accuracy") or {}).get("prev_run_id")
        if prev != first:
            fail(f"second run's previous_run_accuracy.prev_run_id = {prev!r}, expected {first!r}")
        print(f"s3_roundtrip: second run {second} monitored the first ({prev})")

        # 2b. `restock status` reads a remote out's history; a prefix without one is UNKNOWN.
        r = restock("status", "--out", out, "--max-age-hours", "1000000", check=False)
        if r.returncode not in (0, 1) or first not in r.stdout or second not in r.stdout:
            fail(f"status of {out} exited {r.returncode}: {r.stdout[-800:]}{r.stderr[-300:]}")
        r = restock("status", "--out", f"s3://{BUCKET}/nothing-here", check=False)
        if r.returncode != 3 or f"s3://{BUCKET}/nothing-here/runs.parquet" not in r.stdout:
            fail(f"status of an empty prefix exited {r.returncode}: {r.stdout[-500:]}")
        print("s3_roundtrip: status reads the remote history; an empty prefix is UNKNOWN")

        # 3. A missing input: exit 4, nothing uploaded.
        before = keys("runs/sample/")
        r = restock("run", "--pipeline", a.pipeline, *remote_args("missing.parquet"),
                    "--out", out, check=False)
        if r.returncode != 4:
            fail(f"missing input exited {r.returncode}, expected 4: {r.stderr[-500:]}")
        if "missing.parquet" not in r.stderr:
            fail(f"error does not name the missing object: {r.stderr[-500:]}")
        if keys("runs/sample/") != before or get("runs/sample/latest").decode().strip() != second:
            fail("a failed run changed the bucket")
        print("s3_roundtrip: missing input -> exit 4, bucket unchanged")

        # 3b. An unreadable input: exit 4, and the error names the object, not the staged copy.
        s3.put_object(Bucket=BUCKET, Key="in/broken.parquet", Body=b"sku;qty\nA;1\n")
        r = restock("run", "--pipeline", a.pipeline, *remote_args("broken.parquet"),
                    "--out", out, check=False)
        if r.returncode != 4:
            fail(f"unreadable input exited {r.returncode}, expected 4: {r.stderr[-500:]}")
        if f"s3://{BUCKET}/in/broken.parquet" not in r.stderr or "restock-staging" in r.stderr:
            fail(f"error does not name the object's URL: {r.stderr[-500:]}")
        if keys("runs/sample/") != before:
            fail("a failed run changed the bucket")
        print("s3_roundtrip: unreadable input -> exit 4, named by its URL")

        # 3c. A staging folder left by a killed run (its process gone) is swept by the next
        # run that stages, and that run leaves none of its own behind.
        staging = os.path.join(tmp, "staging")
        stale = os.path.join(staging, "restock-staging-4999999-20261201T000000", "inputs")
        os.makedirs(stale)
        r = subprocess.run([a.restock, "check", "--pipeline", a.pipeline, *remote_args()],
                           env={**env, "RESTOCK_STAGING": staging}, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"check with remote inputs exited {r.returncode}: {r.stderr[-500:]}")
        if os.listdir(staging):
            fail(f"staging folders left behind: {os.listdir(staging)}")
        print("s3_roundtrip: a dead run's staging folder swept, none left behind")

        # 4. Shards to S3, merge from S3.
        sh = f"s3://{BUCKET}/sharded"
        for i in (0, 1):
            restock("run", "--pipeline", a.pipeline, *remote_args(), "--out", sh,
                    "--shard", f"{i}/2")
        restock("merge", "--pipeline", a.pipeline, *remote_args(), "--out", sh)
        merged = get("sharded/latest").decode().strip()
        same_as_local(f"sharded/{merged}/", "merged shards")
        print(f"s3_roundtrip: 2 shards on S3 merged into {merged}, equal to the local run")

        # 5. Mixed: remote inputs with a local shard folder; remote shards merged locally.
        lsh = os.path.join(tmp, "local-shards")
        r = restock("run", "--pipeline", a.pipeline, *remote_args(), "--out", lsh,
                    "--shard", "0/2")
        if f"-> {lsh}/shard=0/" not in r.stdout:
            fail(f"shard with a local out did not report its folder: {r.stdout!r}")
        lm = os.path.join(tmp, "local-merge")
        restock("merge", "--pipeline", a.pipeline, *remote_args(), "--shards", sh, "--out", lm)
        got = os.path.realpath(os.path.join(lm, "latest"))
        for n in ref_files:
            with open(os.path.join(ref, n), "rb") as x, open(os.path.join(got, n), "rb") as y:
                if x.read() != y.read():
                    fail(f"remote shards merged into a local out: {n} differs")
        print("s3_roundtrip: local shard folder reported; remote shards merged into a local out")
    server.stop()
    print("s3_roundtrip: OK")


if __name__ == "__main__":
    main()
