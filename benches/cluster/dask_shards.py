"""restock's sharded run on a real cluster engine: a Dask distributed cluster started here on
loopback (scheduler and worker processes on 127.0.0.1) runs `restock run --shard i/N` as one
task per shard, then `restock merge` as a task that depends on them — what an Indexed Job
plus a merge Job does on Kubernetes. For each N it times the shard phase, the merge and the
whole, next to a single-machine `restock run` on the same cores, and checks that the merged
run's outputs equal the single run's byte for byte (every file but the manifest).

    bash benches/cluster/setup.sh
    python benches/cluster/dask_shards.py --restock target/release/restock \
        --pipeline pipelines/online-retail.toml --shards 2,4,8 --out /tmp/cluster

Exit code 1 if any merged run differs from the single run.
"""
import argparse
import filecmp
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from distributed import Client, LocalCluster


def run(cmd, env):
    """A restock process inside a Dask worker; returns (seconds, exit code, stderr tail)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, p.returncode, p.stderr[-2000:]


def same_outputs(a, b):
    files = sorted(f for f in os.listdir(a) if not f.startswith("."))
    other = sorted(f for f in os.listdir(b) if not f.startswith("."))
    if files != other:
        return [f"file lists differ: {files} vs {other}"]
    return [f for f in files if f != "manifest.json"
            and not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restock", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--shards", default="2,4,8")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--threads", type=int, default=1, help="restock threads per shard task")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], help="passed to restock as --set")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    sets = [x for s in a.set for x in ("--set", s)]
    env = dict(os.environ, RESTOCK_LOG="warn")
    restock = os.path.abspath(a.restock)

    # Single machine, all cores: the reference outputs and time.
    single = out / "single"
    t_single, code, err = run([restock, "--threads", str(a.workers * a.threads), "run",
                               "--pipeline", a.pipeline, "--out", str(single)] + sets, env)
    if code != 0:
        sys.exit(f"single run failed: {err}")

    cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    rows, bad = [], []
    try:
        for n in [int(x) for x in a.shards.split(",")]:
            d = out / f"n{n}"
            t0 = time.perf_counter()
            futs = [client.submit(run, [restock, "--threads", str(a.threads), "run",
                                        "--pipeline", a.pipeline, "--out", str(d),
                                        "--shard", f"{i}/{n}"] + sets, env,
                                  key=f"shard-{n}-{i}", pure=False) for i in range(n)]
            res = client.gather(futs)
            t_shards = time.perf_counter() - t0
            for i, (_, c, e) in enumerate(res):
                if c != 0:
                    sys.exit(f"shard {i}/{n} failed: {e}")
            # The merge is a task too, submitted after its shards (the cluster's dependency).
            mf = client.submit(run, [restock, "--threads", str(a.workers * a.threads), "merge",
                                     "--pipeline", a.pipeline, "--out", str(d)] + sets, env,
                               key=f"merge-{n}", pure=False)
            t_merge, c, e = mf.result()
            if c != 0:
                sys.exit(f"merge of {n} shards failed: {e}")
            total = time.perf_counter() - t0
            diff = same_outputs(single / "latest", d / "latest")
            if diff:
                bad.append((n, diff))
            rows.append({"shards": n, "shard_phase_s": t_shards,
                         "slowest_shard_s": max(r[0] for r in res),
                         "sum_shard_process_s": sum(r[0] for r in res),
                         "merge_s": t_merge, "total_s": total,
                         "single_run_s": t_single, "total_over_single": total / t_single,
                         "identical_to_single": not diff})
    finally:
        client.close()
        cluster.close()
    summary = {"pipeline": a.pipeline, "workers": a.workers, "threads_per_shard": a.threads,
               "engine": "dask.distributed LocalCluster on 127.0.0.1", "rows": rows}
    (out / "cluster_summary.json").write_text(json.dumps(summary, indent=1))
    print(f"single run ({a.workers * a.threads} threads): {t_single:.1f} s")
    print(f"{'shards':>6} {'shard phase':>12} {'slowest':>8} {'merge':>7} {'total':>7} {'/single':>8}  identical")
    for r in rows:
        print(f"{r['shards']:>6} {r['shard_phase_s']:>11.1f}s {r['slowest_shard_s']:>7.1f}s "
              f"{r['merge_s']:>6.1f}s {r['total_s']:>6.1f}s {r['total_over_single']:>8.2f}  "
              f"{r['identical_to_single']}")
    if bad:
        print(f"DIFFERENT from the single run: {bad}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
