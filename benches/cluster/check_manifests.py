"""Checks the deployment manifests in deploy/: the Kubernetes YAML parses (RBAC, the
shared-volume and the S3 variant), the Indexed Job's completions, parallelism and the N in
`--shard $JOB_COMPLETION_INDEX/N` agree, the merge runs after `kubectl wait` on that job and
writes where the shards do, the S3 variant's pods get the credentials Secret and no volume,
and the Slurm scripts pass the array index as the shard."""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(__file__).resolve().parents[2] / "deploy"
problems = []
rbac = {d["kind"] for d in yaml.safe_load_all((root / "k8s" / "rbac.yaml").read_text())}
for k in ["ServiceAccount", "Role", "RoleBinding"]:
    if k not in rbac:
        problems.append(f"rbac.yaml: missing {k}")
for name, out in [("restock.yaml", "/runs"), ("restock-s3.yaml", '"$RESTOCK_OUT"')]:
    docs = list(yaml.safe_load_all((root / "k8s" / name).read_text()))
    kinds = {d["kind"]: d for d in docs}
    for k in ["ConfigMap", "CronJob"]:
        if k not in kinds:
            problems.append(f"{name}: missing {k}")
    job = yaml.safe_load(kinds["ConfigMap"]["data"]["shards-job.yaml"])
    spec = job["spec"]
    shard_pod = spec["template"]["spec"]["containers"][0]
    args = " ".join(shard_pod["args"])
    m = re.search(r'--shard "\$\{JOB_COMPLETION_INDEX\}/(\d+)"', args)
    if spec.get("completionMode") != "Indexed":
        problems.append(f"{name}: shard job is not an Indexed Job")
    if not m or not (int(m.group(1)) == spec["completions"] == spec["parallelism"]):
        problems.append(f"{name}: shard count disagrees: {args!r} vs completions {spec['completions']}")
    driver_pod = kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    driver = " ".join(driver_pod["args"])
    if not re.search(r"kubectl wait .*job/restock-shards-\$RUN.*\n?.*restock .*merge", driver, re.S):
        problems.append(f"{name}: driver does not wait for the shards before merging")
    # Shards and merge must write to (and read from) the same place.
    for what, a in [("shards", args), ("merge", driver)]:
        if f"--out {out}" not in a:
            problems.append(f"{name}: {what} do not use --out {out}")
    if name == "restock-s3.yaml":
        for what, pod in [("shard pods", shard_pod), ("driver", driver_pod)]:
            refs = [e.get("secretRef", {}).get("name") for e in pod.get("envFrom", [])]
            if "restock-s3" not in refs:
                problems.append(f"{name}: {what} do not get the S3 credentials")
            if "volumeMounts" in pod and any(v["name"] == "data" for v in pod["volumeMounts"]):
                problems.append(f"{name}: {what} still mount the shared volume")
sb = (root / "slurm" / "restock-shards.sbatch").read_text()
if '--shard "${SLURM_ARRAY_TASK_ID}/${N}"' not in sb:
    problems.append("sbatch script does not pass the array index as the shard")
if "--dependency=afterok" not in (root / "slurm" / "nightly.sh").read_text():
    problems.append("merge is not submitted after the array job")
if problems:
    sys.exit("deploy manifests: " + "; ".join(problems))
print("deploy manifests: Kubernetes CronJob + Indexed Job (shared volume and S3 variants) and "
      "Slurm array + merge are consistent")
