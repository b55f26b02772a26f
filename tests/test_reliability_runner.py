"""Bad input to run_fileset and the clusters, third round of issue 17.

A dataset whose files differ in their branches is named with the files and the branches;
a processor's refusal while the graph is built names the dataset; coffea's warnings about
files it cannot open or cross-references it cannot make do not bury the one-line error;
Ctrl-C to the whole process group of a run on a LocalCluster ends in one line; the batch
executors name the missing submit command and the missing ``jobqueue`` option.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uproot

from egamma_cnn.execution import ExecutionSettings, open_executor, run_fileset
from egamma_cnn.execution.clusters import jobqueue_cluster
from egamma_cnn.execution.worker_setup import PRELOAD, dask_setup
from egamma_cnn.nanoevents import EGammaSchema
from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor
from egamma_cnn.tnp import TnPConfig

DATA = Path(__file__).parent / "data"
MC = str(DATA / "zee_mc.root")
DATALIKE = str(DATA / "zee_datalike.root")
ITERATIVE = ExecutionSettings(executor="iterative")


def _run(fileset: dict, settings: ExecutionSettings = ITERATIVE, schemaclass=EGammaSchema):
    return run_fileset(
        TagAndProbeProcessor(TnPConfig()), fileset, settings, schemaclass=schemaclass
    )


# -- a dataset is one kind of file ---------------------------------------------------------


@pytest.mark.parametrize("skip_bad_files", [False, True])
def test_a_dataset_mixing_data_and_simulation_files_names_the_file(skip_bad_files, tmp_path):
    """A simulated egamma-cnn file in a data dataset is refused by its provenance (read
    with the entries, no form), whatever the permission to skip bad files."""
    other_mc = tmp_path / "other_mc.root"
    other_mc.write_bytes(Path(MC).read_bytes())
    fileset = {
        "data": {"files": [DATALIKE, MC], "metadata": {"is_data": True}},
        "mc": {"files": [str(other_mc)], "metadata": {"is_data": False}},
    }
    settings = ITERATIVE.with_changes(skip_bad_files=skip_bad_files)
    with pytest.raises(ValueError) as err:
        _run(fileset, settings)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"dataset 'data' is declared data (metadata.is_data true) but its file {MC} is "
        "simulation by its egamma-cnn provenance"
    )
    assert "a dataset is one kind of file" in message


def test_files_that_lack_branches_of_the_first_are_named_too(tmp_path):
    with uproot.open(MC) as f:
        arrays = f["Events"].arrays(["run", "event", "PV_z", "PV_npvs"], library="np")
    less = tmp_path / "less.root"
    with uproot.recreate(less) as f:
        f["Events"] = {k: v for k, v in arrays.items() if k != "PV_npvs"}
    more = tmp_path / "more.root"
    with uproot.recreate(more) as f:
        f["Events"] = arrays
    from egamma_cnn.execution.runner import _branch_differences

    fileset = {"d": {"files": {str(more): "Events", str(less): "Events"}}}
    (line,) = _branch_differences(fileset)
    assert f"{less} lacks PV_npvs that {more} has" in line
    assert _branch_differences({"d": {"files": {str(more): "Events"}}}) == []


# -- a processor's refusal names its dataset -----------------------------------------------


def test_a_processor_refusal_while_building_names_the_dataset(recwarn):
    """The NanoAOD schema on an egamma-cnn file among NanoAOD-read datasets: the processor
    refuses the ID column; the error names the dataset and its file, and coffea's
    cross-reference warnings of the failed build are not shown."""
    from coffea.nanoevents import NanoAODSchema

    processor = TagAndProbeProcessor(
        TnPConfig.cms_nanoaod(tag_eta_field=None, probe_eta_field="eta", truth=None)
    )
    fileset = {"mc": {"files": [MC], "metadata": {"is_data": False}}}
    with pytest.raises(ValueError) as err:
        run_fileset(processor, fileset, ITERATIVE, schemaclass=NanoAODSchema)
    message = str(err.value)
    assert message.startswith(f"dataset 'mc' (files: {MC}): ") and "'cutBased" in message
    assert not [w for w in recwarn if "cross-reference" in str(w.message)]


def test_the_failing_dataset_is_found_among_several(tmp_path):
    from egamma_cnn.execution.runner import _explained

    def build(part):
        if "bad" in part:
            raise ValueError("the electrons have no column 'cutBased'")
        return "graph"

    runnable = {"good": {"files": {"a.root": {}}}, "bad": {"files": {"b.root": {}}}}
    err = _explained(ValueError("x"), {}, runnable, build)
    assert str(err) == "dataset 'bad' (files: b.root): the electrons have no column 'cutBased'"
    # every dataset fails alike: not the fault of one; an error naming its dataset: kept
    assert _explained(ValueError("x"), {}, runnable, lambda part: 1 / 0) is None
    assert _explained(ValueError("dataset 'bad' is declared data"), {}, runnable, build) is None


# -- warnings that bury the one line --------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"garbage"])
def test_a_file_that_cannot_be_opened_gives_one_line_and_no_xrootd_warning(tmp_path, content):
    bad = tmp_path / "bad.root"
    bad.write_bytes(content)
    fileset = {"mc": {"files": [str(bad)], "metadata": {"is_data": False}}}
    script = (
        "import sys\n"
        "from egamma_cnn.execution import run_fileset, ExecutionSettings\n"
        "from egamma_cnn.nanoevents import EGammaSchema\n"
        "from egamma_cnn.processors.tag_and_probe import TagAndProbeProcessor\n"
        "from egamma_cnn.tnp import TnPConfig\n"
        f"fileset = {fileset!r}\n"
        "try:\n"
        "    run_fileset(TagAndProbeProcessor(TnPConfig()), fileset,\n"
        "                ExecutionSettings(executor='iterative'), schemaclass=EGammaSchema)\n"
        "except Exception as err:\n"
        "    print('ERROR', err, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "xrootd" not in result.stderr
    assert "Warning" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("ERROR")]
    assert str(bad) in line and "cannot be opened" in line


# -- Ctrl-C to the process group ------------------------------------------------------------


def test_the_local_cluster_workers_ignore_sigint():
    with open_executor(ExecutionSettings(executor="local", workers=1)) as client:
        ignored = client.run(lambda: signal.getsignal(signal.SIGINT) == signal.SIG_IGN)
    assert list(ignored.values()) == [True]
    assert PRELOAD == "egamma_cnn.execution.worker_setup"


def test_dask_setup_ignores_sigint_in_the_main_thread():
    previous = signal.getsignal(signal.SIGINT)
    logger = logging.getLogger("distributed.worker")
    filters = list(logger.filters)
    try:
        dask_setup(worker=None)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        # the heartbeat failure of a stopped command is dropped, other messages are not
        record = logger.makeRecord(
            "distributed.worker",
            logging.ERROR,
            __file__,
            1,
            "Failed to communicate with scheduler during heartbeat.",
            (),
            None,
        )
        assert not logger.filter(record)
        other = logger.makeRecord(
            "distributed.worker", logging.ERROR, __file__, 1, "Compute Failed", (), None
        )
        assert logger.filter(other)
    finally:
        signal.signal(signal.SIGINT, previous)
        logger.filters[:] = filters


def test_ctrl_c_to_the_group_during_a_tnp_run_gives_one_line_and_leaves_nothing(tmp_path):
    psutil = pytest.importorskip("psutil")
    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "data": {"files": [DATALIKE], "metadata": {"is_data": True}},
                "mc": {"files": [MC], "metadata": {"is_data": False}},
            }
        )
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "egamma_cnn.cli", "tnp", str(fileset), "--out-dir", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        workers: list = []
        while time.monotonic() < deadline and process.poll() is None:
            children = psutil.Process(process.pid).children(recursive=True)
            workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
            if workers and all(_started(w) for w in workers):
                break
            time.sleep(0.2)
        assert workers and process.poll() is None, "the cluster never started"
        family = [process.pid] + [p.pid for p in psutil.Process(process.pid).children(True)]
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "egamma-cnn: interrupted (SIGINT)"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(psutil.pid_exists(pid) for pid in family):
        time.sleep(0.2)
    alive = [pid for pid in family if psutil.pid_exists(pid)]
    assert not [pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def _started(worker) -> bool:
    """Whether a worker process ignores SIGINT yet (its preload ran): /proc's SigIgn."""
    try:
        status = Path(f"/proc/{worker.pid}/status").read_text()
    except OSError:
        return False
    ignored = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(ignored.split()[1], 16) & (1 << (signal.SIGINT - 1)))


# -- the batch executors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "command"), [("slurm", "sbatch"), ("htcondor", "condor_submit")]
)
def test_a_batch_executor_without_its_submit_command_says_so(executor, command, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = ExecutionSettings(executor=executor, workers=1)
    with pytest.raises(ValueError) as err, open_executor(settings):
        pass
    assert str(err.value) == (
        f"the {executor!r} executor submits jobs with {command}, which is not on PATH: "
        "run on a submit node of your batch system"
    )


def test_htcondor_without_disk_names_the_json_key(tmp_path, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    fake = tmp_path / "condor_submit"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError) as err:
        jobqueue_cluster(ExecutionSettings(executor="htcondor", workers=1))
    message = str(err.value)
    assert message.startswith("the 'htcondor' executor needs jobqueue.disk: ")
    assert '--execution-config, e.g. {"jobqueue": {"disk": ' in message
    settings = ExecutionSettings(executor="htcondor", workers=1, jobqueue={"disk": "1GB", "x": 1})
    with pytest.raises(ValueError, match=r"^jobqueue\.x in the execution settings is no option"):
        jobqueue_cluster(settings)
