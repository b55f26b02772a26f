"""The training and test samples of the shipped models: a fixed, reproducible production plan.

ATL-PHYS-PUB-2023-001 §3.2 trains on a mixture of processes: Z→ee and W→eν for prompt and
charge-flip
electrons, γ+jet for photon conversions, and JF17 dijets (with prompt photons) for the
light-flavour and heavy-flavour backgrounds. Our plan produces them in *rounds*: every
round writes one file per process with seeds that no other round uses, and every
``test_every``-th round goes to the held-out test split. The split is therefore by file
and by seed (never by candidate), and a bigger sample is the same plan with more rounds:
the first rounds do not change.

All files are simulated at the same pile-up ⟨μ⟩ (default 20) with the MC detector
response. Production is resumable: a file that exists is complete (``produce`` writes
under a temporary name and renames), so a rerun only makes the missing ones.

Limits: at most :data:`MAX_ROUNDS` rounds (10 000: 40 000 files, about 40 CPU-days at
340 s a round; ``prepare`` numbers the files of a split with int16) and ⟨μ⟩ at most
:data:`~egamma_cnn.sim.production.MAX_PILEUP_MU`. :func:`read_plan` reads a
``plan.json`` back, checking every entry.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from egamma_cnn.execution.clusters import WorkerDiedError, check_local_workers, task_pool
from egamma_cnn.sim.generator import PROCESSES
from egamma_cnn.sim.production import MAX_PILEUP_MU, ProductionConfig, produce

__all__ = [
    "DEFAULT_ROUND",
    "MAX_ROUNDS",
    "SPLITS",
    "SampleFile",
    "SamplePlan",
    "produce_plan",
    "read_plan",
]

#: Most rounds of a plan: 40 000 files (32 000 train files fit the int16 file index of
#: :mod:`.dataset`), about 40 CPU-days of production at 340 s a round.
MAX_ROUNDS = 10_000
#: The splits of a plan.
SPLITS: tuple[str, str] = ("train", "test")

#: Events per process and round: balanced so that a round costs about 340 CPU seconds
#: and gives about 11 700 electron candidates at ⟨μ⟩ = 20 (benchmarks/RESULTS.md rates).
DEFAULT_ROUND: dict[str, int] = {"zee": 2000, "wenu": 1000, "gammajet": 3000, "jf17": 800}


@dataclass(frozen=True)
class SampleFile:
    """One file of the plan."""

    process: str
    n_events: int
    seed: int
    round: int
    split: str  # "train" or "test"

    @property
    def name(self) -> str:
        return f"{self.split}_{self.process}_r{self.round:03d}.root"


@dataclass(frozen=True)
class SamplePlan:
    """Rounds of one file per process; every ``test_every``-th round is test.

    Attributes
    ----------
    rounds
        Number of rounds, 1 to :data:`MAX_ROUNDS`.
    events_per_round
        Events per process in one round.
    pileup_mu
        Mean pile-up of every file, 0 to ``MAX_PILEUP_MU`` (200).
    test_every
        Round ``r`` is test iff ``r % test_every == test_every − 1`` (default: 1 in 5);
        1 makes every round a test round: an evaluation-only sample, for
        ``egamma-cnn evaluate`` with seeds no training used.
    base_seed
        File seed = ``base_seed + 100·round + process index``: disjoint across the files
        of a plan. Plans whose seed ranges do not meet (the default plan of 40 rounds
        uses 100 000–103 903) share no seed: an independent sample is this plan with
        another ``base_seed`` (e.g. 700 000).
    """

    rounds: int
    events_per_round: tuple[tuple[str, int], ...] = tuple(DEFAULT_ROUND.items())
    pileup_mu: float = 20.0
    test_every: int = 5
    base_seed: int = 100_000

    def __post_init__(self) -> None:
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise ValueError(
                f"rounds {self.rounds}: a plan has 1 to {MAX_ROUNDS} rounds "
                f"({MAX_ROUNDS * len(self.events_per_round)} files)"
            )
        if not 0 <= self.pileup_mu <= MAX_PILEUP_MU:
            raise ValueError(
                f"pileup_mu {self.pileup_mu}: the mean pile-up must be in "
                f"[0, {MAX_PILEUP_MU:g}] (the HL-LHC design is 140–200)"
            )
        if self.test_every < 1:
            raise ValueError(f"test_every must be ≥ 1, got {self.test_every}")
        if self.base_seed < 0:
            raise ValueError(f"base_seed must be ≥ 0, got {self.base_seed}")
        if self.rounds < self.test_every:
            raise ValueError(
                f"rounds must be ≥ test_every ({self.test_every}) for the plan to have a test "
                f"round, got {self.rounds}"
            )
        for process, n in self.events_per_round:
            if process not in PROCESSES:
                raise ValueError(f"unknown process {process!r} in events_per_round")
            if n <= 0:
                raise ValueError(f"events per round of {process!r} must be > 0, got {n}")

    def files(self) -> list[SampleFile]:
        """Every file of the plan, round by round."""
        out = []
        for r in range(self.rounds):
            split = "test" if r % self.test_every == self.test_every - 1 else "train"
            for index, (process, n) in enumerate(self.events_per_round):
                seed = self.base_seed + 100 * r + index
                out.append(SampleFile(process, n, seed, r, split))
        return out


def read_plan(samples_dir: str | Path) -> list[dict[str, str]]:
    """The files of ``samples_dir/plan.json`` as ``{"name", "split"}`` entries.

    Raises
    ------
    FileNotFoundError
        No ``plan.json``.
    ValueError
        ``plan.json`` is not JSON, not an object with a ``files`` list, or an entry is not
        an object with a ``name`` (a file name, no folder) and a ``split`` (train or
        test); one line naming the file and the entry.
    """
    path = Path(samples_dir) / "plan.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found (run egamma-cnn train-samples first)") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a JSON file ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    expected = 'an object {"files": [{"name": ..., "split": "train" or "test"}, ...]}'
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise ValueError(
            f"{path}: expected {expected} as egamma-cnn train-samples writes, "
            f"got {_short(document)}"
        )
    entries = []
    for index, entry in enumerate(document["files"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        split = entry.get("split") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not name
            or Path(name).name != name
            or name in (".", "..")
            or split not in SPLITS
        ):
            raise ValueError(
                f'{path}: files[{index}] must be an object with a file "name" (no folder) '
                f'and a "split" (train or test), got {_short(entry)}'
            )
        entries.append({"name": name, "split": split})
    return entries


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _produce_one(sample: SampleFile, folder: str, pileup_mu: float, command: str) -> dict:
    cfg = ProductionConfig(
        process=sample.process, n_events=sample.n_events, seed=sample.seed, pileup_mu=pileup_mu
    )
    summary = produce(cfg, Path(folder) / sample.name, workers=1, progress=False, command=command)
    return {**asdict(sample), "wall_s": summary["wall_s"], "path": summary["path"]}


def produce_plan(
    plan: SamplePlan,
    out_dir: str | Path,
    workers: int = 1,
    progress: bool = True,
    command: str = "",
    settings: Any = None,
) -> list[dict]:
    """Produce every missing file of ``plan`` into ``out_dir``, one file per worker process.

    The workers are ``workers`` processes of this machine, or the cluster of
    ``settings`` (:class:`~egamma_cnn.execution.ExecutionSettings`; its workers write
    into ``out_dir``, which must then be on a filesystem they share).

    Returns one record per file produced now; writes ``plan.json`` (the plan and the list
    of files) into ``out_dir``. Local workers are at most
    :func:`~egamma_cnn.execution.clusters.max_local_workers` (else ``ValueError``); they
    die with this process, and an interruption stops them at once (each removes the
    temporary of the file it was writing; one killed with SIGKILL leaves it to the next
    run, which removes it). A worker that dies (``WorkerDiedError``) stops the others;
    the files finished stay, and a rerun makes the rest.
    """
    if settings is None:
        check_local_workers(workers)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    plan_path = folder / "plan.json"
    if plan_path.is_file():  # only the number of rounds may change in an existing folder
        try:
            old = json.loads(plan_path.read_text())["plan"]
            old = dict(old)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"{plan_path}: not a plan of egamma-cnn train-samples ({err!r}); produce the "
                "plan in another folder or remove that file"
            ) from None
        new = json.loads(json.dumps(asdict(plan)))
        old.pop("rounds", None), new.pop("rounds")
        if old != new:
            raise ValueError(
                f"{plan_path} describes another plan ({old}); produce this one ({new}) in "
                "another folder, or change only --rounds here"
            )
    files = plan.files()
    plan_path.write_text(
        json.dumps(
            {"plan": asdict(plan), "files": [asdict(f) | {"name": f.name} for f in files]},
            indent=1,
        )
    )
    missing = [f for f in files if not (folder / f.name).exists()]
    done: list[dict] = []
    t0 = time.perf_counter()
    try:
        with (
            tqdm(total=len(missing), unit="file", disable=not progress) as bar,
            task_pool(settings, workers) as pool,
        ):
            futures = [
                pool.submit(_produce_one, f, str(folder.resolve()), plan.pileup_mu, command)
                for f in missing
            ]
            for future in cf.as_completed(futures):
                record = future.result()
                done.append(record)
                bar.set_postfix_str(f"{record['process']} r{record['round']}")
                bar.update()
    except WorkerDiedError as err:
        raise WorkerDiedError(
            f"{err} while producing the files of {folder}; the {len(done)} files finished are "
            "kept, a rerun makes the others"
        ) from None
    if done:
        with (folder / "production_log.jsonl").open("a") as log:
            for record in done:
                log.write(json.dumps(record) + "\n")
            log.write(json.dumps({"wall_s": time.perf_counter() - t0, "workers": workers}) + "\n")
    return done
