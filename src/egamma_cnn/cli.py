"""Command-line interface: ``egamma-cnn generate | validate | demo | tnp | datamc | isolation |
train-samples | prepare | train | evaluate``.

Bad arguments and bad input give a one-line error on stderr and exit code 2 (the
library raises ``ValueError``, ``OSError`` or :class:`~egamma_cnn.execution.BadInputError`
with a message that names the file, field, value or option). A local worker process that
dies (the out-of-memory killer's SIGKILL) stops the command the same way, with one line
saying how it died and what was not written
(:class:`~egamma_cnn.execution.clusters.WorkerDiedError`). Ctrl-C (SIGINT) and SIGTERM
(what batch systems send) stop a command with one line and exit code 130 or 143; the
command's own cleanup (temporary files, worker processes) runs on both.
"""

from __future__ import annotations

import _thread
import argparse
import dataclasses
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from egamma_cnn.execution import (
    EXECUTORS,
    BadInputError,
    ExecutionSettings,
    WorkerDiedError,
    check_inputs,
    load_fileset,
    open_executor,
)
from egamma_cnn.execution.settings import check_local_workers
from egamma_cnn.features import ELECTRON_HLV_NAMES
from egamma_cnn.jsonio import json_ready
from egamma_cnn.runfolder import run_folder
from egamma_cnn.tnp.config import PRESETS, TnPConfig

__all__ = ["main"]


class _Terminated(KeyboardInterrupt):
    """SIGTERM (what batch systems send) raised like Ctrl-C, so the same cleanup runs."""


#: Seconds after which a stop signal whose exception a finalizer swallowed is raised again.
REDELIVERY_DELAY_S = 0.05


class _StopSignals:
    """SIGTERM and SIGINT raised as exceptions while a command runs (a context manager).

    SIGTERM raises :class:`_Terminated`, SIGINT ``KeyboardInterrupt``: the command's own
    cleanup runs, then :func:`main` prints one line. Once a signal came, what dask's
    client logs while the cluster closes (cancelled tasks, "Task exception was never
    retrieved") and what objects torn down mid-use report ("Exception ignored in", a
    numba compilation cut short) are silenced: the command's line says what happened.

    Python runs a signal's handler between any two instructions of the main thread, also
    inside a finalizer (``__del__``, a weak-reference callback) that the garbage
    collector started there; an exception that leaves a finalizer is not propagated but
    handed to ``sys.unraisablehook``, and the command would go on as if no signal had
    come. The hook installed here raises the signal again (``_thread.interrupt_main``) a
    moment later, from another thread, once the finalizer has returned.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._running = False
        self._previous_handlers: dict[int, Any] = {}
        self._previous_hook = sys.unraisablehook

    def __enter__(self) -> _StopSignals:
        self._running = True
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        self._previous_handlers = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, self._handle),
            signal.SIGINT: signal.signal(signal.SIGINT, self._handle),
        }
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._running = False
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        if self.received is None:
            sys.unraisablehook = self._previous_hook
        # after a signal the hook stays silent: objects torn down at exit may still report

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signum
        for name in ("asyncio", "distributed", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    def _unraisable(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and self.received is not None:
            redelivery = threading.Timer(REDELIVERY_DELAY_S, self._redeliver, (self.received,))
            redelivery.daemon = True
            redelivery.start()
        elif self.received is None:
            self._previous_hook(unraisable)

    def _redeliver(self, signum: int) -> None:
        if self._running:
            _thread.interrupt_main(signum)


def _one_line(message: str) -> str:
    """An error message on one line (library messages may quote multi-line text)."""
    return " ".join(message.split())


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, strictly_positive: bool) -> Any:
    """An argparse type: an int, or a finite float, > 0 or ≥ 0."""
    what = "an integer" if kind is int else "a number"
    bound = "> 0" if strictly_positive else "≥ 0"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if kind is int and (value <= 0 if strictly_positive else value < 0):
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        low_ok = value > 0 if strictly_positive else value >= 0
        if kind is float and not (low_ok and value < float("inf")):
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
        return value

    return parse


_positive_int = _number(int, strictly_positive=True)
_non_negative_int = _number(int, strictly_positive=False)
_positive_float = _number(float, strictly_positive=True)
_non_negative_float = _number(float, strictly_positive=False)


def _pileup(text: str) -> float:
    """A mean pile-up ⟨μ⟩: a finite number in [0, MAX_PILEUP_MU] (the HL-LHC design)."""
    from egamma_cnn.sim.production import MAX_PILEUP_MU

    value = _non_negative_float(text)
    if value > MAX_PILEUP_MU:
        raise argparse.ArgumentTypeError(
            f"{text}: the mean pile-up is at most {MAX_PILEUP_MU:g} (the HL-LHC design is 140–200)"
        )
    return value


def _output_file(text: str) -> Path:
    """An output file name (not empty, not a folder's name such as ``.`` or ``dir/``)."""
    if not text or text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise argparse.ArgumentTypeError(f"give a file name, got {text!r}")
    return Path(text)


def _output_folder(text: str) -> Path:
    """An output folder: not an empty name (the current folder), the root or the home folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name (it would be the current folder)")
    path = Path(text)
    resolved = path.resolve()
    if resolved == Path(resolved.anchor):
        raise argparse.ArgumentTypeError(f"{text}: the filesystem root; give a folder below it")
    try:
        home = Path.home().resolve()
    except (OSError, RuntimeError):  # no home folder
        home = None
    if resolved == home:
        raise argparse.ArgumentTypeError(f"{text}: your home folder itself; give a folder in it")
    return path


def _input_file(text: str) -> Path:
    """A JSON input file that exists and is a file (the fileset, --config, ...)."""
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("an empty file name")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a folder, not a file")
    if not path.exists():
        reason = "a broken symbolic link" if path.is_symlink() else "no such file"
        raise argparse.ArgumentTypeError(f"{text}: {reason}")
    return path


def _dropout(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"a dropout probability is in [0, 1), got {text}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    from egamma_cnn.sim.generator import PROCESSES

    parser = _Parser(prog="egamma-cnn", description="egamma-cnn command-line tools")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = sub.add_parser("generate", help="produce a simulated sample (NanoAOD-style ROOT)")
    gen.add_argument("--process", required=True, choices=sorted(PROCESSES), help="physics process")
    gen.add_argument("--events", required=True, type=_positive_int, help="events to write")
    gen.add_argument("--seed", type=_non_negative_int, default=1, help="master seed")
    gen.add_argument("--out", required=True, type=_output_file, help="output ROOT file")
    gen.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (a regular file)"
    )
    gen.add_argument(
        "--data-like", action="store_true", help="data-like detector response, no truth branches"
    )
    gen.add_argument(
        "--pileup",
        type=_pileup,
        default=0.0,
        metavar="MU",
        help="mean number of pile-up interactions (default 0, at most 200)",
    )
    gen.add_argument("--workers", type=_positive_int, default=1, help="worker processes")
    _cluster_options(gen)
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    val = sub.add_parser("validate", help="validation plots and summary of sample files")
    val.add_argument("files", nargs="+", type=Path, help="sample files (MC)")
    val.add_argument(
        "--data",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="data-like Z→ee files to compare with the MC Z→ee files",
    )
    val.add_argument(
        "--out-dir",
        type=_output_folder,
        default=Path("validation"),
        help="folder for the PNGs and summary.json",
    )

    tnp = sub.add_parser("tnp", help="Z→ee tag-and-probe efficiencies and data/MC SFs")
    _tnp_options(tnp)
    datamc = sub.add_parser("datamc", help="data/MC probe shower shapes, fudge factors, distances")
    _datamc_options(datamc)
    isolation = sub.add_parser(
        "isolation", help="isolation WPs, ID–isolation correlation, isolation cones vs the CNN"
    )
    _isolation_options(isolation)
    run = sub.add_parser(
        "run",
        help="run a pre-built processor over a fileset on an executor",
        description="egamma-cnn run PROCESSOR --fileset F.json --executor EXECUTOR [...]: "
        "the same as egamma-cnn PROCESSOR F.json [...]. Executors: "
        + "; ".join(f"{k}: {v}" for k, v in EXECUTORS.items()),
    )
    processors = run.add_subparsers(dest="processor", required=True, metavar="PROCESSOR")
    for name, options, text in (
        ("tnp", _tnp_options, "tag-and-probe"),
        ("datamc", _datamc_options, "data/MC shower shapes"),
        ("isolation", _isolation_options, "isolation"),
    ):
        options(processors.add_parser(name, help=text), fileset_option=True)

    demo = sub.add_parser("demo", help="the README's main job on the embedded default")
    demo.add_argument("--out-dir", type=_output_folder, default=Path("egamma-cnn-demo"))
    demo.add_argument("--events", type=_positive_int, default=1000)
    demo.add_argument("--workers", type=_positive_int, default=2)

    samples = sub.add_parser(
        "train-samples", help="produce the training/test sample plan of the shipped models"
    )
    samples.add_argument(
        "--rounds", type=_positive_int, required=True, help="rounds of files (at most 10000)"
    )
    samples.add_argument("--out-dir", type=_output_folder, required=True)
    samples.add_argument("--workers", type=_positive_int, default=1)
    _cluster_options(samples)
    samples.add_argument(
        "--pileup", type=_pileup, default=20.0, metavar="MU", help="⟨μ⟩ (default 20, at most 200)"
    )
    samples.add_argument(
        "--base-seed",
        type=_non_negative_int,
        default=100_000,
        help="file seed = base seed + 100·round + process index (default 100000; another "
        "value, e.g. 700000, gives a sample that shares no seed with the default plan)",
    )
    samples.add_argument(
        "--test-every",
        type=_positive_int,
        default=5,
        help="every K-th round is a test round (default 5; 1: an evaluation-only sample)",
    )

    prep = sub.add_parser("prepare", help="build network inputs and features of a sample plan")
    prep.add_argument("--samples", type=Path, required=True, help="folder with plan.json")
    prep.add_argument("--out", type=_output_folder, required=True, help="output folder")
    prep.add_argument("--workers", type=_positive_int, default=1)
    _cluster_options(prep)

    train = sub.add_parser("train", help="train a model (needs the train extra: torch)")
    train.add_argument("what", choices=["electron", "fcn", "calo-cnn", "photon", "baselines"])
    train.add_argument("--data", type=Path, required=True, help="output folder of prepare")
    train.add_argument(
        "--out", type=_output_file, required=True, help=".onnx file, or folder (baselines)"
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out if it exists (a model file, or the baselines of a folder)",
    )
    train.add_argument("--preset", choices=["default", "table6"], default="default")
    train.add_argument("--max-epochs", type=_positive_int, default=40)
    train.add_argument("--batch-size", type=_positive_int, default=256)
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--seeds", type=_positive_int, default=3, help="baselines: seeds per net")
    train.add_argument("--threads", type=_non_negative_int, default=0)
    train.add_argument("--dropout", type=_dropout, help="dropout of the dense layers")
    train.add_argument("--l2", type=_non_negative_float, default=1e-5, help="L2 (weight decay)")
    train.add_argument(
        "--patience",
        type=_positive_int,
        default=5,
        help="epochs without improvement of the validation loss before stopping (default 5, "
        "ATL-PHYS-PUB-2023-001; may change when a run resumes)",
    )
    train.add_argument(
        "--augment",
        choices=["none", "eta", "phi", "both"],
        default="none",
        help="electron networks: mirror each training candidate at random in every batch "
        "(eta: η → −η; phi: φ → −φ with the charges flipped; docs/INPUTS.md)",
    )
    train.add_argument("--ratio", type=_positive_float, default=4.0, help="background/signal ratio")
    train.add_argument("--cuts", type=Path, help="photon: the cut-based JSON to match")
    train.add_argument("--no-progress", action="store_true")

    evaluate = sub.add_parser("evaluate", help="test-sample performance, plots and metrics")
    evaluate.add_argument("--data", type=Path, required=True, help="output folder of prepare")
    evaluate.add_argument("--models", type=Path, required=True, help="folder of the models")
    evaluate.add_argument("--out-dir", type=_output_folder, required=True)
    evaluate.add_argument(
        "--no-record",
        action="store_true",
        help="leave the models' metadata as it is (an evaluation on another sample, such as "
        "an independent-seed one, must not replace the numbers of their own test split)",
    )
    return parser


def _check_writable(parser: argparse.ArgumentParser, path: Path, overwrite: bool) -> None:
    """Refuse ``--out`` before any work: its folder must take a new file, and an existing
    ``path`` is replaced only when a regular file and ``overwrite`` is given."""
    from egamma_cnn.sim.writer import check_output_target

    folder = path.resolve().parent
    if not folder.is_dir():
        parser.error(f"--out: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        parser.error(f"--out: folder {folder} is not writable")
    try:
        check_output_target(path, overwrite)
    except (FileExistsError, ValueError) as err:
        parser.error(f"--out: {_one_line(str(err))}")
    try:  # what os.access cannot tell (/proc, a read-only mount seen as root)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        parser.error(f"--out {path}: cannot create a file in {folder} ({err.strerror})")


def _generate(args, parser) -> int:
    from egamma_cnn.sim.production import ProductionConfig, produce

    _check_writable(parser, args.out, args.overwrite)
    cfg = ProductionConfig(
        process=args.process,
        n_events=args.events,
        seed=args.seed,
        data_like=args.data_like,
        pileup_mu=args.pileup,
    )
    command = "egamma-cnn " + shlex.join(sys.argv[1:])
    summary = produce(
        cfg,
        args.out,
        workers=args.workers,
        progress=not args.no_progress,
        command=command,
        settings=_cluster(args),
        overwrite=args.overwrite,
    )
    t = summary["times"]
    print(
        f"wrote {summary['n_events']} events to {summary['path']} in {summary['wall_s']:.1f} s "
        f"(filter efficiency {summary['filter_efficiency']:.3f}; CPU s: generator "
        f"{t['generator']:.1f}, pile-up {t['pileup']:.1f}, detector {t['detector']:.1f}, "
        f"reconstruction {t['reconstruction']:.1f}, output {t['output']:.1f})"
    )
    return 0


def _validate(args, parser) -> int:
    from egamma_cnn.sim.validation import validate

    for f in [*args.files, *args.data]:
        if not f.is_file():
            parser.error(f"no such file: {f}")
    summary = validate(args.files, args.out_dir, data_files=args.data)
    print(json.dumps(json_ready(summary), indent=1))
    return 0


def _demo(args, parser) -> int:
    from egamma_cnn.workflows.demo import run_demo

    check_local_workers(args.workers)  # before anything is printed or created
    run_demo(args.out_dir, events=args.events, workers=args.workers)
    return 0


def _fileset_argument(parser: argparse.ArgumentParser, fileset_option: bool) -> None:
    if fileset_option:
        parser.add_argument("--fileset", type=_input_file, required=True, help="fileset JSON")
    else:
        parser.add_argument("fileset", type=_input_file, help="fileset JSON (coffea format)")


def _execution_options(parser: argparse.ArgumentParser) -> None:
    """The executor options every processor command shares (ExecutionSettings)."""
    group = parser.add_argument_group("execution (egamma_cnn.execution.ExecutionSettings)")
    group.add_argument(
        "--executor",
        choices=list(EXECUTORS),
        default=None,
        help="where to run (default: local; --workers 0: iterative)",
    )
    group.add_argument("--address", default=None, help="scheduler or gateway address")
    group.add_argument(
        "--workers",
        type=_non_negative_int,
        default=None,
        help="workers or batch jobs (default 2; 0: iterative, in this process)",
    )
    group.add_argument(
        "--step-size",
        "--chunk-size",
        dest="step_size",
        type=_positive_int,
        default=None,
        help="events per chunk (default 20000)",
    )
    group.add_argument(
        "--retries",
        type=_non_negative_int,
        default=None,
        help="retries of a failed chunk (default 3)",
    )
    group.add_argument("--memory-per-worker", default=None, help='e.g. "4GiB"')
    group.add_argument(
        "--skip-bad-files",
        action="store_true",
        default=None,
        help="go on past files and chunks that cannot be read; the summary names each one",
    )
    group.add_argument(
        "--cache-dir",
        default=None,
        help="folder of the preprocessing cache (default: $EGAMMA_CNN_CACHE_DIR or "
        "~/.cache/egamma-cnn)",
    )
    group.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        default=None,
        help="preprocess every file again and keep nothing",
    )
    group.add_argument(
        "--execution-config",
        type=_input_file,
        default=None,
        help="ExecutionSettings JSON (jobqueue and gateway options); the flags override it",
    )


def _tnp_options(parser: argparse.ArgumentParser, fileset_option: bool = False) -> None:
    _fileset_argument(parser, fileset_option)
    parser.add_argument("--out-dir", type=_output_folder, default=Path("tnp"), help="output folder")
    parser.add_argument(
        "--id",
        nargs="+",
        default=None,
        metavar="SPEC",
        help="probe IDs to measure, e.g. cnn_tight 'cnn_score >= 0.9' (default: CNN WPs)",
    )
    parser.add_argument("--tag-id", default=None, help="tag ID (default: cnn_tight)")
    parser.add_argument("--method", choices=["count", "fit"], default="count")
    parser.add_argument("--signal", choices=["template", "bwcb"], default="template")
    parser.add_argument(
        "--background", choices=["exponential", "polynomial"], default="exponential"
    )
    parser.add_argument(
        "--interval", choices=["clopper-pearson", "wilson"], default="clopper-pearson"
    )
    parser.add_argument(
        "--config",
        type=_input_file,
        default=None,
        help="a TnPConfig JSON; settings it lacks come from its preset (or --preset)",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="the input format's settings: egamma-cnn files, CMS NanoAOD (electron or "
        "photon probes) or a flat CMS tag-and-probe ntuple (default: egamma-cnn)",
    )
    parser.add_argument(
        "--nanoaod",
        action="store_true",
        help="standard CMS NanoAOD input: the cms-nanoaod preset (NanoAODSchema, cutBased IDs)",
    )

    _execution_options(parser)


def _datamc_options(parser: argparse.ArgumentParser, fileset_option: bool = False) -> None:
    _fileset_argument(parser, fileset_option)
    parser.add_argument(
        "--out-dir", type=_output_folder, default=Path("datamc"), help="output folder"
    )
    parser.add_argument("--config", type=_input_file, default=None, help="a TnPConfig JSON")
    parser.add_argument(
        "--id",
        nargs="*",
        default=None,
        metavar="SPEC",
        help="IDs whose probe efficiencies are compared (default: LLH and CNN WPs; "
        "--id alone: none)",
    )
    parser.add_argument(
        "--no-fudged-pass",
        action="store_true",
        help="skip the second MC pass with the fudge factors applied",
    )

    _execution_options(parser)


def _isolation_options(parser: argparse.ArgumentParser, fileset_option: bool = False) -> None:
    _fileset_argument(parser, fileset_option)
    parser.add_argument(
        "--out-dir", type=_output_folder, default=Path("isolation"), help="output folder"
    )
    parser.add_argument("--config", type=_input_file, default=None, help="a TnPConfig JSON")
    parser.add_argument(
        "--wp",
        nargs="+",
        default=None,
        metavar="NAME=SPEC",
        help="isolation working points, e.g. 'my_iso=ptvarcone30/pt < 0.1 and etcone20/pt < 0.1'"
        " (default: iso_loose iso_tight; a bare NAME is a column)",
    )
    parser.add_argument(
        "--tnp-datasets",
        nargs="+",
        default=None,
        metavar="DATASET",
        help="Z→ee data and MC datasets of the fileset: measure the WPs with the tag-and-probe",
    )
    parser.add_argument(
        "--photons",
        action="store_true",
        help="photons: the photon CNN, Photon.iso_loose, prompt vs non-prompt photons",
    )

    _execution_options(parser)


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    """Run the tasks on a dask cluster instead of local worker processes."""
    group = parser.add_argument_group("cluster (instead of local worker processes)")
    group.add_argument("--executor", choices=list(EXECUTORS), default=None)
    group.add_argument("--address", default=None, help="scheduler or gateway address")
    group.add_argument(
        "--execution-config",
        type=_input_file,
        default=None,
        help="ExecutionSettings JSON (jobqueue and gateway options)",
    )


def _cluster(args: argparse.Namespace) -> Any:
    """The ExecutionSettings of a production or preparation command, or None (local)."""
    if args.executor is None and args.address is None and args.execution_config is None:
        return None
    settings = (
        ExecutionSettings.from_json(args.execution_config)
        if args.execution_config is not None
        else ExecutionSettings(
            executor=args.executor or "scheduler", address=args.address, workers=args.workers
        )
    )
    return settings.with_changes(executor=args.executor, address=args.address)


def _execution(args: argparse.Namespace) -> Any:
    """The ExecutionSettings of a command: the JSON file, then the flags given."""
    settings = (
        ExecutionSettings.from_json(args.execution_config)
        if args.execution_config is not None
        else ExecutionSettings()
    )
    executor = args.executor
    if args.workers == 0:
        if executor not in (None, "iterative"):
            raise ValueError(f"--workers 0 runs in this process; it cannot go with {executor}")
        executor = "iterative"
    return settings.with_changes(
        executor=executor,
        address=args.address,
        workers=args.workers or None,
        chunk_size=args.step_size,
        retries=args.retries,
        memory_per_worker=args.memory_per_worker,
        skip_bad_files=args.skip_bad_files,
        cache=args.cache,
        cache_dir=args.cache_dir,
    )


def _execute(args: argparse.Namespace, fileset: dict[str, Any], run: Any) -> Any:
    """``run(scheduler=..., settings=...)`` on the executor the command's options name.

    Without ``--skip-bad-files``, the files of ``fileset`` that are not there stop the
    command before the executor (a cluster: seconds to start) is opened.
    """
    settings = _execution(args)
    if not settings.skip_bad_files:
        check_inputs(fileset, settings)
    with open_executor(settings) as executor:
        return run(scheduler=executor, settings=settings)


def _tnp(args, parser) -> int:
    from egamma_cnn.workflows.tnp import NANOAOD_SCHEMA, run_tnp, schema_for

    if args.nanoaod and args.preset not in (None, "cms-nanoaod"):
        parser.error(f"--nanoaod is the cms-nanoaod preset, not --preset {args.preset}")
    base = TnPConfig.preset_config("cms-nanoaod" if args.nanoaod else args.preset or "egamma-cnn")
    config = base if args.config is None else TnPConfig.from_json(args.config, base=base)
    chosen = "cms-nanoaod" if args.nanoaod else args.preset
    if chosen is not None and config.preset != chosen:
        flag = "--nanoaod" if args.nanoaod else f"--preset {chosen}"
        parser.error(f'{flag}, but {args.config} says "preset": {config.preset!r}')
    if args.id:
        config = dataclasses.replace(config, probe_id=tuple(args.id))
    if args.tag_id is not None:  # an empty one is refused by the ID specification
        try:
            config = dataclasses.replace(config, tag_id=args.tag_id)
        except ValueError as err:
            parser.error(f"--tag-id {args.tag_id!r}: {_one_line(str(err))}")
    fileset = load_fileset(args.fileset)
    schemaclass = NANOAOD_SCHEMA if args.nanoaod else schema_for(config)
    options = dict(
        method=args.method,
        signal=args.signal,
        background=args.background,
        interval=args.interval,
        schemaclass=schemaclass,
    )
    summary = _execute(
        args, fileset, lambda **extra: run_tnp(fileset, args.out_dir, config, **options, **extra)
    )
    print(json.dumps(json_ready(summary), indent=1))
    if "no_scale_factors" in summary:
        print(f"efficiencies and plots in {args.out_dir}; {summary['no_scale_factors']}")
    else:
        print(f"efficiencies, scale factors and plots in {args.out_dir}")
    return 0


def _datamc(args, parser) -> int:
    from egamma_cnn.workflows.datamc import run_datamc

    config = TnPConfig.from_json(args.config) if args.config else TnPConfig()
    fileset = load_fileset(args.fileset)
    summary = _execute(
        args,
        fileset,
        lambda **extra: run_datamc(
            fileset,
            args.out_dir,
            config,
            ids=tuple(args.id) if args.id is not None else None,
            fudged_pass=not args.no_fudged_pass,
            **extra,
        ),
    )
    print(json.dumps(json_ready(summary), indent=1))
    print(f"fudge factors, distances and plots in {args.out_dir}")
    return 0


def _working_points(texts: list[str] | None, parser) -> dict[str, str] | None:
    """``NAME=SPEC`` (or a bare column NAME) arguments as a mapping."""
    if texts is None:
        return None
    points: dict[str, str] = {}
    for text in texts:
        name, equals, spec = text.partition("=")
        name, spec = name.strip(), spec.strip()
        if not name.isidentifier():
            parser.error(f"--wp {text!r}: give NAME=SPEC with NAME a plain identifier")
        if equals and not spec:
            parser.error(f"--wp {text!r}: an empty SPEC after '='; give NAME=SPEC or a bare column")
        if name in points:
            parser.error(f"--wp: the working point {name!r} is given twice")
        points[name] = spec or name
    return points


def _isolation(args, parser) -> int:
    from egamma_cnn.workflows.isolation import run_isolation

    config = TnPConfig.from_json(args.config) if args.config else TnPConfig()
    fileset = load_fileset(args.fileset)
    working_points = _working_points(args.wp, parser)
    summary = _execute(
        args,
        fileset,
        lambda **extra: run_isolation(
            fileset,
            args.out_dir,
            config,
            working_points=working_points,
            tnp_datasets=args.tnp_datasets,
            particle="photon" if args.photons else "electron",
            **extra,
        ),
    )
    print(json.dumps(json_ready(summary), indent=1))
    print(f"working points, correlations, ROC curves and plots in {args.out_dir}")
    return 0


def _run(args, parser) -> int:
    return {"tnp": _tnp, "datamc": _datamc, "isolation": _isolation}[args.processor](args, parser)


def _train_samples(args, parser) -> int:
    from egamma_cnn.train.samples import MAX_ROUNDS, SamplePlan, produce_plan

    if args.rounds > MAX_ROUNDS:
        parser.error(
            f"--rounds {args.rounds}: at most {MAX_ROUNDS} (a plan of {4 * MAX_ROUNDS} files, "
            "about 40 CPU-days)"
        )
    plan = SamplePlan(
        rounds=args.rounds,
        pileup_mu=args.pileup,
        base_seed=args.base_seed,
        test_every=args.test_every,
    )
    command = "egamma-cnn " + shlex.join(sys.argv[1:])
    done = produce_plan(
        plan, args.out_dir, workers=args.workers, command=command, settings=_cluster(args)
    )
    print(f"produced {len(done)} files; the plan has {len(plan.files())} in {args.out_dir}")
    return 0


def _prepare(args, parser) -> int:
    from egamma_cnn.train.dataset import prepare_files
    from egamma_cnn.train.samples import SPLITS, read_plan

    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out: {args.out} exists and is not a folder")
    if not (args.samples / "plan.json").is_file():
        parser.error(
            f"--samples: {args.samples / 'plan.json'} not found (run egamma-cnn train-samples "
            "first)"
        )
    plan = read_plan(args.samples)
    missing = [f["name"] for f in plan if not (args.samples / f["name"]).is_file()]
    if missing:
        parser.error(
            f"--samples: {len(missing)} files of the plan are missing ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); rerun egamma-cnn train-samples to finish"
        )
    files = {
        split: [args.samples / f["name"] for f in plan if f["split"] == split] for split in SPLITS
    }
    if not files["test"]:
        parser.error(
            f"--samples: {args.samples / 'plan.json'} lists no test files; prepare needs a "
            "test split (the evaluation's), and a train split unless the plan is "
            "evaluation-only (train-samples --test-every 1)"
        )
    # an evaluation-only plan has no train files: its train split is left out, and
    # `egamma-cnn train` on the output says so
    splits = [split for split in SPLITS if files[split]]
    if args.executor is None and args.address is None and args.execution_config is None:
        check_local_workers(args.workers)
    settings = _cluster(args)
    inputs = {
        "samples": str(args.samples),
        "files": {k: [str(f) for f in v] for k, v in files.items()},
    }
    # both splits as one run: written aside, swapped in together (an earlier output stays
    # whole until then)
    with run_folder(args.out, workflow="prepare", inputs=inputs) as staging:
        counts = {
            split: prepare_files(
                files[split], staging / split, workers=args.workers, settings=settings
            )["counts"]
            for split in splits
        }
    for split in splits:
        print(
            f"{split}: {len(files[split])} files, {counts[split]} candidates -> {args.out / split}"
        )
    return 0


def _train(args, parser) -> int:
    try:
        from egamma_cnn.train.trainer import TrainingConfig
    except ImportError as err:
        parser.error(f"training needs the train extra (pip install 'egamma-cnn[train]'): {err}")
    training = TrainingConfig(
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        l2=args.l2,
        patience=args.patience,
        augment=args.augment,
    )
    from egamma_cnn.train.dataset import read_meta

    progress = not args.no_progress
    command = "egamma-cnn " + shlex.join(sys.argv[1:])
    if not (args.data / "train" / "meta.json").is_file():
        parser.error(f"--data: {args.data / 'train' / 'meta.json'} not found (run prepare)")
    read_meta(args.data / "train")  # its errors name the file
    if args.augment != "none" and args.what in ("photon", "baselines"):
        parser.error(f"--augment applies to train electron, fcn and calo-cnn, not {args.what}")
    if args.what == "baselines":
        if args.out.exists() and not args.out.is_dir():
            parser.error(f"--out: {args.out} is a file; baselines need a folder")
    else:
        if args.out.suffix != ".onnx":
            parser.error(f"--out: {args.out} must be an .onnx file")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        _check_writable(parser, args.out, args.overwrite)
    if args.what in ("electron", "fcn", "calo-cnn"):
        from egamma_cnn.train.electron import train_electron
        from egamma_cnn.train.networks import CPU_DEFAULT, TABLE6

        config = TABLE6 if args.preset == "table6" else CPU_DEFAULT
        if args.dropout is not None:
            config = dataclasses.replace(config, dropout=args.dropout)
        hlv_names, name = ELECTRON_HLV_NAMES, "electron_cnn"
        if args.what == "fcn":  # the HLV-only network of ATL-PHYS-PUB-2023-001 §6.1
            config = dataclasses.replace(config, use_images=False, use_tracks=False)
            name = "electron_fcn"
        # images + (E_T, η): the CNN of Collado et al., PRD 103, 116028, Table I
        elif args.what == "calo-cnn":
            config = dataclasses.replace(config, use_tracks=False)
            hlv_names, name = ("et", "eta"), "electron_calo_cnn"
        metadata = train_electron(
            args.data,
            args.out,
            net_config=config,
            training=training,
            ratio=args.ratio,
            hlv_names=hlv_names,
            name=name,
            description=f"trained with: {command}",
            progress=progress,
            overwrite=args.overwrite,
        )
    elif args.what == "photon":
        from egamma_cnn.train.photon import train_photon

        if args.cuts is None:
            parser.error("train photon needs --cuts (the photon_cuts.json of train baselines)")
        from egamma_cnn.train.networks import PHOTON_DEFAULT

        photon_config = PHOTON_DEFAULT
        if args.dropout is not None:
            photon_config = dataclasses.replace(photon_config, dropout=args.dropout)
        metadata = train_photon(
            args.data,
            args.out,
            args.cuts,
            net_config=photon_config,
            training=training,
            description=f"trained with: {command}",
            progress=progress,
            overwrite=args.overwrite,
        )
    else:
        from egamma_cnn.train.baselines import train_baselines

        metadata = train_baselines(
            args.data,
            args.out,
            training=training,
            n_seeds=args.seeds,
            progress=progress,
            overwrite=args.overwrite,
        )
    print(json.dumps(metadata.get("training", metadata), indent=1, default=str)[:2000])
    return 0


def _evaluate(args, parser) -> int:
    from egamma_cnn.train.evaluation import evaluate

    summary = evaluate(args.data, args.models, args.out_dir, record=not args.no_record)
    print(json.dumps(json_ready(summary["headline"]), indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``egamma-cnn`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    commands = {
        "generate": _generate,
        "validate": _validate,
        "demo": _demo,
        "tnp": _tnp,
        "datamc": _datamc,
        "isolation": _isolation,
        "run": _run,
        "train-samples": _train_samples,
        "prepare": _prepare,
        "train": _train,
        "evaluate": _evaluate,
    }
    out_dir = getattr(args, "out_dir", None)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        parser.error(f"--out-dir: {out_dir} exists and is not a folder")
    try:
        with _StopSignals():
            return commands[args.command](args, parser)
    except (ValueError, OSError, BadInputError, WorkerDiedError) as err:
        # an error without a message (a TimeoutError while a cluster starts) names its kind
        print(f"egamma-cnn: error: {_one_line(str(err)) or type(err).__name__}", file=sys.stderr)
        return 2
    except _Terminated:
        print("egamma-cnn: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("egamma-cnn: interrupted (SIGINT)", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    raise SystemExit(main())
