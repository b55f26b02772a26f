"""The command line: bad arguments give one line on stderr and exit code 2."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "egamma_cnn.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--process", "ttbar", "--events", "5", "--out", "x.root"], "ttbar"),
        (["generate", "--process", "zee", "--events", "0", "--out", "x.root"], "must be > 0"),
        (["generate", "--process", "zee", "--events", "-3", "--out", "x.root"], "must be > 0"),
        (
            ["generate", "--process", "zee", "--events", "5", "--out", "/nonexistent/x.root"],
            "does not exist",
        ),
        (
            ["generate", "--process", "zee", "--events", "5", "--out", "x.root", "--pileup", "-1"],
            "must be a finite number ≥ 0",
        ),
        (
            ["generate", "--process", "zee", "--events", "5", "--out", "x.root", "--pileup", "inf"],
            "must be a finite number ≥ 0",
        ),
        (
            ["generate", "--process", "zee", "--events", "5", "--out", "x.root", "--pileup", "1e6"],
            "argument --pileup: 1e6: the mean pile-up is at most 200 (the HL-LHC design",
        ),
        (
            ["generate", "--process", "zee", "--events", "5", "--out", ""],
            "argument --out: give a file name, got ''",
        ),
        (["train", "electron", "--data", "d", "--out", "m.onnx", "--ratio", "-1"], "> 0"),
        (["train", "electron", "--data", "d", "--out", "m.onnx", "--dropout", "1.5"], "[0, 1)"),
        (["validate", "missing.root"], "no such file"),
    ],
)
def test_bad_arguments(args, message, tmp_path):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        import os

        if os.access(folder, os.W_OK):  # running as root: permissions are not enforced
            pytest.skip(reason="permissions are not enforced for this user")
        result = _run(
            "generate", "--process", "zee", "--events", "5", "--out", str(folder / "x.root")
        )
        assert result.returncode == 2
        assert "not writable" in result.stderr
    finally:
        folder.chmod(0o700)


def test_generate_writes_a_file(tmp_path):
    pytest.importorskip("pythia8mc")
    out = tmp_path / "w.root"
    result = _run(
        "generate",
        "--process",
        "wenu",
        "--events",
        "5",
        "--seed",
        "2",
        "--out",
        str(out),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    assert "wrote 5 events" in result.stdout


def test_out_dir_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    result = _run("demo", "--out-dir", str(afile))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"egamma-cnn: error: --out-dir: {afile} exists and is not a folder"
    )
    assert afile.read_text() == "mine"


_SLOW_COMMAND = """
import sys, time
from egamma_cnn import cli
def slow(args, parser):
    print("ready", flush=True)
    time.sleep(60)
    return 0
cli._demo = slow
sys.exit(cli.main(["demo"]))
"""


@pytest.mark.parametrize(
    ("signal_number", "code", "line"),
    [
        (signal.SIGINT, 130, "egamma-cnn: interrupted (SIGINT)"),
        (signal.SIGTERM, 143, "egamma-cnn: terminated (SIGTERM)"),
    ],
)
def test_interrupt_gives_one_line(signal_number, code, line):
    """Ctrl-C and a batch system's SIGTERM stop a command with one line, no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_COMMAND],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code
    assert stderr.strip() == line


class _SignalsItselfWhenCollected:
    """An object whose finalizer receives ``signal_number``: its handler runs there."""

    def __init__(self, signal_number):
        self.signal_number = signal_number

    def __del__(self):
        signal.raise_signal(self.signal_number)


@pytest.mark.parametrize(
    ("signal_number", "exception"),
    [(signal.SIGTERM, "_Terminated"), (signal.SIGINT, "KeyboardInterrupt")],
)
def test_a_stop_signal_that_lands_in_a_finalizer_still_stops_the_command(signal_number, exception):
    """Python does not propagate an exception out of ``__del__`` (it reports it to
    ``sys.unraisablehook``): the signal must be raised again, not lost."""
    from egamma_cnn import cli

    expected = cli._Terminated if exception == "_Terminated" else KeyboardInterrupt
    previous_handlers = {n: signal.getsignal(n) for n in (signal.SIGTERM, signal.SIGINT)}
    kept_running = False
    with pytest.raises(expected) as info:
        with cli._StopSignals() as stop:
            _SignalsItselfWhenCollected(signal_number)  # collected at once: its __del__ runs
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                time.sleep(0.01)
            kept_running = True
    assert type(info.value) is expected
    assert not kept_running
    assert stop.received == signal_number
    assert {n: signal.getsignal(n) for n in previous_handlers} == previous_handlers


def test_stop_signals_leave_the_unraisable_hook_as_they_found_it_when_no_signal_came():
    from egamma_cnn import cli

    before = sys.unraisablehook
    with cli._StopSignals():
        assert sys.unraisablehook is not before
    assert sys.unraisablehook is before


def test_sigterm_during_a_tnp_run_on_a_local_cluster_leaves_nothing(tmp_path):
    """A batch system's SIGTERM mid-run: one line, exit 143, no temporary folder, no
    output that looks complete, and no worker or nanny process of the LocalCluster left."""
    psutil = pytest.importorskip("psutil")
    data = Path(__file__).parent / "data"
    fileset = tmp_path / "fileset.json"
    fileset.write_text(
        json.dumps(
            {
                "data": {"files": [str(data / "zee_datalike.root")], "metadata": {"is_data": True}},
                "mc": {"files": [str(data / "zee_mc.root")], "metadata": {"is_data": False}},
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
        staging: list[Path] = []
        while not staging and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            staging = list(tmp_path.glob(".out.run-*"))
        assert staging, "the run never started writing"
        family = [process.pid] + [p.pid for p in psutil.Process(process.pid).children(True)]
        assert len(family) >= 3  # the command, the nanny and worker processes
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "egamma-cnn: terminated (SIGTERM)"
    assert not list(tmp_path.glob(".out.run-*"))
    assert not (out / "manifest.json").exists()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(psutil.pid_exists(pid) for pid in family):
        time.sleep(0.2)
    alive = [pid for pid in family if psutil.pid_exists(pid)]
    alive = [pid for pid in alive if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive


def test_demo_refuses_too_many_workers_before_printing_or_creating(tmp_path, capsys):
    from egamma_cnn.cli import main
    from egamma_cnn.workflows.demo import run_demo

    out = tmp_path / "demo"
    assert main(["demo", "--workers", "100000", "--out-dir", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("egamma-cnn: error: --workers 100000: at most ")
    assert captured.err.count("\n") == 1
    with pytest.raises(ValueError, match="--workers 100000: at most"):
        run_demo(out, workers=100_000)
    assert not out.exists()


def test_generate_names_out_when_it_exists(tmp_path, capsys):
    from egamma_cnn.cli import main

    out = tmp_path / "a.root"
    out.write_bytes(b"precious")
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--process", "zee", "--events", "5", "--out", str(out)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"egamma-cnn: error: --out: {out} exists: give --overwrite (overwrite=True) to replace it\n"
    )
    assert out.read_bytes() == b"precious"


def test_generate_into_a_folder_that_takes_no_files_names_out():
    result = _run("generate", "--process", "zee", "--events", "5", "--out", "/proc/x.root")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    # root: "--out /proc/x.root: cannot create a file in /proc (No such file or directory)";
    # another user: "--out: folder /proc is not writable"; never the hidden temporary
    assert line.startswith("egamma-cnn: error: --out") and "/proc" in line
    assert ".x.root" not in line
