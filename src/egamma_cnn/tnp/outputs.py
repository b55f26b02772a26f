"""The files of a tag-and-probe result (:class:`~egamma_cnn.tnp.analysis.TnPResult`).

:func:`write_outputs` writes into a folder

* ``histograms.root`` — per sample (data, mc), ID and pass/fail the opposite-charge
  m_ee × E_T × η histograms, truth summed over (TH3D, readable by ROOT and uproot),
  named ``<sample>_<ID>_pass`` / ``_fail`` (:func:`root_name`; ``<ID>`` is
  :func:`file_name` of the probe ID, one name per distinct ID);
* ``efficiencies.json`` — every bin's efficiency (data, MC, MC truth-matched) with its
  method, uncertainty and status, and the E_T and η projections;
* ``scale_factors.json`` — with data and simulation, the correctionlib JSON of the
  scale factors (:func:`egamma_cnn.tnp.scale_factors.write_correctionlib`), and
  ``scale_factors_table.json`` with the same numbers and the bins without an SF;
* ``summary.json`` — per dataset the events, pairs and pairs outside the binning, what
  the run left out, the method and per ID the mean and weighted mean SF;
* ``config.json`` — the configuration that made them.

The plots are :func:`egamma_cnn.tnp.plots.plot_all`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import uproot

from egamma_cnn.jsonio import write_json
from egamma_cnn.tnp.analysis import TnPResult
from egamma_cnn.tnp.config import IdSpec, TnPConfig
from egamma_cnn.tnp.scale_factors import write_correctionlib

__all__ = [
    "NAME_LIMIT",
    "check_output_names",
    "file_name",
    "normalised_spec",
    "root_name",
    "write_outputs",
    "write_root",
]


#: Longest readable part of an output name; a longer one is cut and given a hash.
NAME_LIMIT = 80
_OPERATOR_WORDS = {">=": "ge", ">": "gt", "<=": "le", "<": "lt", "==": "eq", "!=": "ne"}


def normalised_spec(spec: str) -> str:
    """The canonical text of an ID specification: ``"cnn_score>=0.50"`` →
    ``"cnn_score >= 0.5"`` (spaces and number formats no longer matter)."""
    return str(IdSpec.parse(spec))


def file_name(spec: str) -> str:
    """The output name of an ID specification, one name per distinct specification.

    The terms of the normalised specification (:func:`normalised_spec`) are written with
    ``-`` around every word that is not a column: ``"ptvarcone30/pt < 0.15"`` →
    ``"ptvarcone30-over-pt-lt-0.15"``, ``"cutBased >= 4 and x != 1"`` →
    ``"cutBased-ge-4-and-x-ne-1"``, ``"cnn_tight"`` → ``"cnn_tight"``. A column has no
    ``-`` and a number no word, so two different specifications never share a name. A
    name longer than :data:`NAME_LIMIT` is cut to 72 characters and ends with ``-`` and
    12 hexadecimal digits of the SHA-256 of the normalised specification (85 characters
    in all, a length no uncut name has).

    Raises
    ------
    ValueError
        ``spec`` is not an ID specification.
    """
    parsed = IdSpec.parse(spec)
    terms = []
    for term in parsed.terms:
        name = term.column if term.denominator is None else f"{term.column}-over-{term.denominator}"
        if term.op is not None:
            value = str(term).rsplit(" ", 1)[1]  # the number as the specification writes it
            name += f"-{_OPERATOR_WORDS[term.op]}-{value}"
        terms.append(name)
    readable = "-and-".join(terms)
    if len(readable) <= NAME_LIMIT:
        return readable
    digest = hashlib.sha256(str(parsed).encode()).hexdigest()[:12]
    return f"{readable[:72]}-{digest}"


def root_name(sample: str, probe_id: str, passing: bool) -> str:
    """The name of a histogram in ``histograms.root``: ``"<sample>_<name>_pass"`` / ``_fail``
    with the name of :func:`file_name` (``"mc_cutBased-ge-4_pass"``): one key per ID,
    never a ``/`` or ``;``."""
    return f"{sample}_{file_name(probe_id)}_{'pass' if passing else 'fail'}"


def check_output_names(specs: Sequence[str], what: str = "ID") -> None:
    """Raise before a run when two specifications would write the same outputs.

    Two specifications that are the same after normalisation (``"cnn_score>=0.5"`` and
    ``"cnn_score >= 0.50"``) measure the same thing and would share every output name.

    Raises
    ------
    ValueError
        One line naming both specifications (or an unparsable one).
    """
    seen: dict[str, str] = {}
    for spec in specs:
        name = file_name(spec)
        if name in seen:
            raise ValueError(
                f"{what} specifications {seen[name]!r} and {spec!r} are the same "
                f"({normalised_spec(spec)!r}): give each once"
            )
        seen[name] = spec


def write_root(samples: Mapping[str, Any], config: TnPConfig, path: str | Path) -> Path:
    """The opposite-charge pass and fail m_ee × E_T × η histograms of every sample and ID."""
    path = Path(path)
    with uproot.recreate(path) as f:
        for sample, histogram in samples.items():
            for probe_id in config.probe_id:
                for passing in (True, False):
                    selection = {"id": probe_id, "passing": passing, "opposite": True}
                    f[root_name(sample, probe_id, passing)] = histogram[{**selection, "truth": sum}]
    return path


def write_outputs(result: TnPResult, out_dir: str | Path) -> list[Path]:
    """Write the files of the module docstring into ``out_dir`` (created); their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_json(asdict(result.config), out_dir / "config.json"),
        write_root(result.samples, result.config, out_dir / "histograms.root"),
        write_json(result.efficiency_table(), out_dir / "efficiencies.json"),
    ]
    if result.scale_factors:
        written.append(
            write_correctionlib(
                result.scale_factors,
                out_dir / "scale_factors.json",
                description=f"method {result.method}.",
            )
        )
        written.append(
            write_json(result.scale_factor_table(), out_dir / "scale_factors_table.json")
        )
    written.append(write_json(result.summary(), out_dir / "summary.json"))
    return written
