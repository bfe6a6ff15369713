"""``--executor slurm`` on a real single-node Slurm cluster (Debian's slurmctld, slurmd, munge), tracked by
``python -m suite server`` on PostgreSQL: a study finishes with every point once, and a job signalled to
requeue (``scancel --signal=USR2``, what Slurm sends before a time limit) resumes under the same run, with
DataLoader worker processes alive through the signal.

The cluster runs from a minimal slurm.conf in a temp folder (``SLURM_CONF``), munged as the ``munge`` user
on its own socket, the daemons as root, no accounting (the executor does not need ``sacct``). Without the
packages, or without root, the test skips with the reason; ``.ci/run`` installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from tiny import tiny

from suite.contract import Role, RunStatus, Tag, tag_filter

pytestmark = pytest.mark.slow

CONF = """ClusterName=klif-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/socket
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=10
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""

STUDY = tiny(
    "clustered",
    epochs=4,
    n=1000,
    title="LIF vs KLIF on MNIST through Slurm",
    base="workers = 1  # a DataLoader worker process per run: Slurm signals it too",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm():
    """A running single-node cluster; yields the environment that reaches it (SLURM_CONF)."""
    missing = [b for b in ("slurmctld", "slurmd", "munged", "sbatch", "squeue") if shutil.which(b) is None]
    if missing:
        pytest.skip(
            f"Slurm not installed ({', '.join(missing)} missing; Debian slurmctld slurmd slurm-client munge)"
        )
    if os.getuid() != 0:
        pytest.skip("a test Slurm cluster runs its daemons as root")
    if not Path("/etc/munge/munge.key").exists():
        pytest.skip("no /etc/munge/munge.key (Debian's munge package creates it)")
    root = Path(tempfile.mkdtemp(prefix="suite-slurm-"))  # outside pytest's 0700 folders: munged reads it
    os.chmod(root, 0o755)
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    (root / "munge").mkdir(mode=0o711)
    shutil.chown(root / "munge", "munge", "munge")
    host = socket.gethostname()
    conf = root / "slurm.conf"
    conf.write_text(
        CONF.format(
            host=host, root=root, ctld_port=_free_port(), d_port=_free_port(), cpus=os.cpu_count() or 2
        )
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    munge = ["runuser", "-u", "munge", "--", "munged", "-S", f"{root}/munge/socket"]
    munge += [
        f"--pid-file={root}/munge/pid",
        f"--log-file={root}/munge/log",
        f"--seed-file={root}/munge/seed",
    ]
    started = []
    try:
        for cmd in (munge, ["slurmctld", "-f", str(conf)], ["slurmd", "-f", str(conf)]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
            if done.returncode:
                pytest.skip(
                    f"{cmd[0] if cmd[0] != 'runuser' else 'munged'} did not start: {done.stderr.strip()[-300:]}"
                )
            started.append(cmd)
        deadline = time.time() + 60
        while time.time() < deadline:
            state = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True
            ).stdout
            if state.strip() in ("idle", "mix", "alloc"):
                break
            time.sleep(0.5)
        else:
            pytest.skip(f"the test node never became idle (sinfo: {state.strip()!r}); see {root}/slurmd.log")
        yield env
    finally:
        subprocess.run(["scancel", "-u", "root"], env=env, capture_output=True)
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)
        time.sleep(1)
        pid = root / "munge" / "pid"
        if pid.exists():
            os.kill(int(pid.read_text()), signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


def _job_of(pid: int) -> str:
    """The Slurm job id (``<array>_<index>``) of the process holding a point."""
    env = dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v)
    return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"


def test_a_slurm_study_tracks_every_point_once_and_a_requeued_job_resumes(
    slurm, tracking_server, tmp_path, data_root
):
    from mlflow.tracking import MlflowClient

    home = tmp_path / "home"
    study, settings = tmp_path / "clustered.toml", tmp_path / "cluster.toml"
    study.write_text(STUDY)
    settings.write_text(
        "[slurm]\ntime_min = 30\ngpus_per_run = 0\ncpus_per_run = 1\nmem_gb = 1\npoll_s = 2\n"
    )
    env = {**slurm, "SUITE_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [sys.executable, "-m", "suite", "study", str(study), "--profile", "smoke", "--no-report"]
    cmd += ["--executor", "slurm", "--executor-config", str(settings)]
    cmd += ["--tracking-uri", tracking_server.uri, "--data-root", str(data_root)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 400
        while time.time() < deadline and not list(home.glob("runs/*/ckpt-000[1-2].pt")):
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        signalled = sorted(home.glob("runs/*/ckpt-000[1-2].pt"))[0].parent.name
        job = _job_of(int((home / "runs" / signalled / "lock").read_text().split()[0]))
        subprocess.run(["scancel", "--signal=USR2", job], env=slurm, check=True, timeout=60)
        client = MlflowClient(tracking_server.uri)
        exp = client.get_experiment_by_name("clustered")
        (before,) = client.search_runs([exp.experiment_id], filter_string=tag_filter(CONFIG_HASH=signalled))
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "slurm: 1 job array of 2 runs" in out and "[2/2 done]" in out, out
    assert out.count("epoch 4/4 test_acc") == 2, out  # progress read back from the server's metrics
    runs = client.search_runs([exp.experiment_id], filter_string=tag_filter(ROLE=Role.CHILD))
    assert len(runs) == 2 and len({r.data.tags[Tag.CONFIG_HASH] for r in runs}) == 2, "every point once"
    assert {r.data.tags[Tag.STATUS] for r in runs} == {RunStatus.FINISHED}
    for run in runs:
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "test_acc")) == [1, 2, 3, 4]
    (after,) = [r for r in runs if r.data.tags[Tag.CONFIG_HASH] == signalled]
    assert after.info.run_id == before.info.run_id, "the requeued job resumed the same MLflow run"
    logs = "".join(p.read_text() for p in (home / "jobs").glob("*/*.err"))
    assert "Caught signal SIGUSR2" in logs, logs
