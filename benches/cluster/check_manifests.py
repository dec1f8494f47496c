"""Checks the deployment manifests in deploy/: the Kubernetes YAML parses, the Indexed Job's
completions, parallelism and the N in `--shard $JOB_COMPLETION_INDEX/N` agree, the merge runs
after `kubectl wait` on that job, and the Slurm scripts pass the array index as the shard."""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(__file__).resolve().parents[2] / "deploy"
docs = list(yaml.safe_load_all((root / "k8s" / "restock.yaml").read_text()))
kinds = {d["kind"]: d for d in docs}
problems = []
for k in ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "CronJob"]:
    if k not in kinds:
        problems.append(f"missing {k}")
job = yaml.safe_load(kinds["ConfigMap"]["data"]["shards-job.yaml"])
spec = job["spec"]
args = " ".join(spec["template"]["spec"]["containers"][0]["args"])
m = re.search(r'--shard "\$\{JOB_COMPLETION_INDEX\}/(\d+)"', args)
if spec.get("completionMode") != "Indexed":
    problems.append("shard job is not an Indexed Job")
if not m or not (int(m.group(1)) == spec["completions"] == spec["parallelism"]):
    problems.append(f"shard count disagrees: {args!r} vs completions {spec['completions']}")
driver = " ".join(kinds["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                  ["containers"][0]["args"])
if not re.search(r"kubectl wait .*job/restock-shards-\$RUN.*\n?.*restock .*merge", driver, re.S):
    problems.append("driver does not wait for the shards before merging")
sb = (root / "slurm" / "restock-shards.sbatch").read_text()
if '--shard "${SLURM_ARRAY_TASK_ID}/${N}"' not in sb:
    problems.append("sbatch script does not pass the array index as the shard")
if "--dependency=afterok" not in (root / "slurm" / "nightly.sh").read_text():
    problems.append("merge is not submitted after the array job")
if problems:
    sys.exit("deploy manifests: " + "; ".join(problems))
print("deploy manifests: Kubernetes CronJob + Indexed Job and Slurm array + merge are consistent")
