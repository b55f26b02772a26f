"""The files of a tag-and-probe result (:class:`~egamma_cnn.tnp.analysis.TnPResult`).

:func:`write_outputs` writes into a folder

* ``histograms.root`` — per sample (data, mc), ID and pass/fail the opposite-charge
  m_ee × E_T × η histograms, truth summed over (TH3D, readable by ROOT and uproot),
  named ``<sample>_<ID>_pass`` / ``_fail`` (:func:`root_name`; ``<ID>`` is
  :func:`file_name` of the probe ID, one name per distinct ID);
* ``efficiencies.json`` — every bin's efficiency (data, MC, MC truth-matched) with its
  method, uncertainty and status, and the E_T and η projections; with systematic
  sources also every bin of ``"data_<source>"`` and ``"mc_<source>"``, measured with
  the source's variation;
* ``scale_factors.json`` — with data and simulation, the correctionlib JSON of the
  scale factors (:func:`egamma_cnn.tnp.scale_factors.write_correctionlib`: ``sf``,
  ``sfup``/``sfdown``, ``stat_up``/``stat_down``, ``syst_up``/``syst_down`` and
  ``<source>_up``/``<source>_down``; its description names the sources and their
  overrides), and ``scale_factors_table.json`` with the same numbers, the bins without
  an SF and, with systematic sources, the ``stat``, ``syst``, ``total`` grids, δ per
  source (``sources``) and the bins whose variation gave no SF;
* ``summary.json`` — per dataset the events (rows of a flat ntuple), the tag–probe pairs
  (both charges, every m_ee) and pairs outside the binning, what the run left out, the
  method, per ID and sample the efficiency integrated over the bins
  (:func:`~egamma_cnn.tnp.analysis.integrated_efficiency`), and per ID the mean and
  weighted mean SF (with
  systematic sources: the mean σ_stat and σ_syst and per source the mean and largest δ);
* ``config.json`` — the configuration that made them.

The plots are :func:`egamma_cnn.tnp.plots.plot_all`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import uproot

from egamma_cnn.jsonio import write_json
from egamma_cnn.tnp.analysis import TnPResult
from egamma_cnn.tnp.config import IdSpec, TnPConfig
from egamma_cnn.tnp.scale_factors import write_correctionlib
from egamma_cnn.tnp.systematics import describe_systematics

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
_OPERATOR_WORDS = {
    ">=": "ge",
    ">": "gt",
    "<=": "le",
    "<": "lt",
    "==": "eq",
    "!=": "ne",
    "/": "over",
    "*": "times",
    "+": "plus",
    "-": "minus",
}
#: The tokens of a canonical specification: names (dotted), numbers, operators, brackets.
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*|-?[0-9][0-9.]*(?:e[-+]?[0-9]+)?|>=|<=|==|!=|\S")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?[0-9][0-9.]*(?:e[-+]?[0-9]+)?")
#: The tokens of the specifications whose readable names are unique without a hash: columns
#: and numbers compared, ratios, joined by ``and`` (alternating operand and operator).
_PLAIN_OPERATORS = (">=", ">", "<=", "<", "==", "!=", "/", "and")
_GRAMMAR_WORDS = ("abs", "min", "max", "sqrt", "bit", "trigger", "or", "not", "true", "false")


def normalised_spec(spec: str) -> str:
    """The canonical text of an ID specification: ``"cnn_score>=0.50"`` →
    ``"cnn_score >= 0.5"`` (spaces and number formats no longer matter)."""
    return str(IdSpec.parse(spec))


def file_name(spec: str) -> str:
    """The output name of an ID specification, one name per distinct specification.

    The tokens of the normalised specification (:func:`normalised_spec`) are joined by
    ``-``, operators as words: ``"ptvarcone30/pt < 0.15"`` →
    ``"ptvarcone30-over-pt-lt-0.15"``, ``"cutBased >= 4 and x != 1"`` →
    ``"cutBased-ge-4-and-x-ne-1"``, ``"cnn_tight"`` → ``"cnn_tight"``. For these (columns
    and numbers compared, ratios, ``and``) operands and operators alternate and a column
    has no ``-``, so two different specifications never share a name. Any other
    specification (functions, ``or``, ``not``, parentheses, arithmetic), and a name longer
    than :data:`NAME_LIMIT`, is cut to 72 characters and ends with ``-`` and 12
    hexadecimal digits of the SHA-256 of the normalised specification (at most 85
    characters; ``"abs(eta) < 1.5"`` → ``"abs-eta-lt-1.5-<hash>"``).

    Raises
    ------
    ValueError
        ``spec`` is not an ID specification.
    """
    text = str(IdSpec.parse(spec))
    tokens = _TOKEN.findall(text)
    words = [_OPERATOR_WORDS.get(token, token) for token in tokens if token not in "(),"]
    readable = "-".join(words)
    plain = all(
        t in _PLAIN_OPERATORS
        or _NUMBER.fullmatch(t)
        or (_NAME.fullmatch(t) and t not in _GRAMMAR_WORDS)
        for t in tokens
    )
    if plain and len(readable) <= NAME_LIMIT:
        return readable
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
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


def root_label(label: str) -> str:
    """A matplotlib axis label (``$m_{ee}$ [GeV]``, ``probe $\\eta_{SC}$``) as ROOT's
    TLatex writes it (``m_{ee} [GeV]``, ``probe #eta_{SC}``)."""
    text = label.replace("$", "").replace("\\", "#")
    return text.replace("p_T", "p_{T}").replace("E_T", "E_{T}")


def write_root(samples: Mapping[str, Any], config: TnPConfig, path: str | Path) -> Path:
    """The opposite-charge pass and fail m_ee × E_T × η histograms of every sample and ID,
    titled ``<sample>: <ID>, pass|fail`` with ROOT (TLatex) axis titles. The pairs whose
    m_ee lies outside ``mass_range`` are in the m_ee under- and overflow bins."""
    path = Path(path)
    with uproot.recreate(path) as f:
        for sample, histogram in samples.items():
            for probe_id in config.probe_id:
                for passing in (True, False):
                    selection = {"id": probe_id, "passing": passing, "opposite": True}
                    chosen = histogram[{**selection, "truth": sum}]
                    for axis in chosen.axes:
                        axis.label = root_label(axis.label)
                    chosen.name = f"{sample}: {probe_id}, {'pass' if passing else 'fail'}"
                    f[root_name(sample, probe_id, passing)] = chosen
    return path


def write_outputs(result: TnPResult, out_dir: str | Path) -> list[Path]:
    """Write the files of the module docstring into ``out_dir`` (created); their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        write_json(result.config.to_dict(), out_dir / "config.json"),
        write_root(result.samples, result.config, out_dir / "histograms.root"),
        write_json(result.efficiency_table(), out_dir / "efficiencies.json"),
    ]
    if result.scale_factors:
        written.append(
            write_correctionlib(
                result.scale_factors,
                out_dir / "scale_factors.json",
                description=" ".join(
                    text
                    for text in (
                        f"method {result.method}.",
                        describe_systematics(result.config.systematics),
                    )
                    if text
                ),
                eta_variable=result.config.probe_eta_field,
                et_variable=result.config.probe_et_field,
            )
        )
        written.append(
            write_json(result.scale_factor_table(), out_dir / "scale_factors_table.json")
        )
    written.append(write_json(result.summary(), out_dir / "summary.json"))
    return written
