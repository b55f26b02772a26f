"""Validation of simulated samples: Z peak, energy response, shower shapes, class mix.

``validate(files, out_dir)`` reads MC sample files, writes PNGs and ``summary.json``
into ``out_dir`` and returns the summary:

* m_ee of the two leading opposite-charge electrons (p_T > 20 GeV) in Z→ee files, fitted
  with a Breit–Wigner (m_Z, Γ_Z fixed) ⊗ Crystal Ball on 75–105 GeV
  (:func:`fit_z_peak`): the peak must be within 1 GeV of 91.2 GeV and the core σ
  1.5–3 GeV for an ATLAS-like detector; reported inclusively and for two central
  (|η| < 1.37) electrons;
* E_reco/E_true of prompt electrons (truth class 0) versus |η|;
* the shower shapes R_η, R_φ, w_η2, f1, f3, R_had (:mod:`egamma_cnn.features`) per truth
  class (ATLAS: signal R_η peaked near 0.93–0.97, backgrounds broader);
* the truth-class composition per process, to compare with ATL-PHYS-PUB-2023-001 Table 2,
  and per file: whether same-process files agree within Poisson errors
  (:func:`per_file_consistency`);

The inputs are checked before anything is written (:func:`check_inputs`): each file a
readable sample, given once, simulation among the files and data-like among the
``data_files`` as its provenance says, and a Z→ee MC file for a data/MC comparison. The
outputs are those of one run (:func:`egamma_cnn.runfolder.run_folder`: written aside,
swapped in, ``manifest.json`` last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from scipy.optimize import curve_fit

from egamma_cnn.features import SHOWER_SHAPE_NAMES, shower_shapes
from egamma_cnn.intervals import rate_homogeneity
from egamma_cnn.jsonio import write_json
from egamma_cnn.plotting import pyplot, save_figure
from egamma_cnn.provenance import METADATA_KEY, object_names, open_root_file, read_metadata
from egamma_cnn.runfolder import run_folder
from egamma_cnn.sim.truth import ElectronClass

__all__ = [
    "CLASS_LABELS",
    "TREE_NAME",
    "check_sample",
    "fit_gaussian_core",
    "per_event_squares",
    "per_file_consistency",
    "validate",
]

CLASS_LABELS = {
    ElectronClass.PROMPT: "prompt e",
    ElectronClass.CHARGE_FLIP: "charge flip",
    ElectronClass.PHOTON_CONVERSION: "γ conversion",
    ElectronClass.HEAVY_FLAVOUR: "heavy flavour",
    ElectronClass.LIGHT_FLAVOUR_EGAMMA: "LF e/γ",
    ElectronClass.LIGHT_FLAVOUR_HADRON: "LF hadron",
}
CLASS_COLOURS = {
    ElectronClass.PROMPT: "black",
    ElectronClass.CHARGE_FLIP: "tab:blue",
    ElectronClass.PHOTON_CONVERSION: "tab:green",
    ElectronClass.HEAVY_FLAVOUR: "tab:purple",
    ElectronClass.LIGHT_FLAVOUR_EGAMMA: "tab:orange",
    ElectronClass.LIGHT_FLAVOUR_HADRON: "tab:red",
}
# Plotted ranges; values outside are drawn in the first/last bin.
_SHAPE_RANGES = {
    "reta": (0.5, 1.05, r"$R_\eta$"),
    "rphi": (0.5, 1.05, r"$R_\phi$"),
    "weta2": (0.005, 0.02, r"$w_{\eta 2}$"),
    "f1": (0.0, 0.7, r"$f_1$"),
    "f3": (-0.02, 0.15, r"$f_3$"),
    "rhad": (-0.05, 0.3, r"$R_{had}$"),
}


Z_MASS_GEV = 91.1876
Z_WIDTH_GEV = 2.4952
CB_TAIL_POWER = 5.0


def crystal_ball(x: np.ndarray, sigma: float, alpha: float, n: float) -> np.ndarray:
    """Unnormalised Crystal Ball shape centred at 0: a Gaussian core of width σ with a
    power-law tail below −α σ (Oreglia, SLAC-R-236, 1980), as used for Z→ee peaks."""
    t = x / sigma
    a = abs(alpha)
    core = np.exp(-0.5 * t * t)
    big_a = (n / a) ** n * np.exp(-0.5 * a * a)
    big_b = n / a - a
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        tail = big_a * np.power(np.maximum(big_b - t, 1e-12), -n)
    return np.where(t > -a, core, tail)


def fit_z_peak(
    mass: np.ndarray, lo: float = 75.0, hi: float = 105.0, bins: int = 60
) -> dict[str, float]:
    """Fit m_ee with a Breit–Wigner (m_Z, Γ_Z fixed, PDG) ⊗ Crystal Ball resolution.

    The Crystal Ball models the detector response: a Gaussian core of width σ (the core
    mass resolution) and a power-law low tail (radiation, brem losses; the power is fixed
    to ``CB_TAIL_POWER`` = 5, α ∈ [0.5, 5], because a free power is degenerate with the
    Breit–Wigner tail), with a shift Δm of its peak; the reported peak is m_Z + Δm
    (PDG: m_Z = 91.1876 GeV, Γ_Z = 2.4952 GeV). Binned least squares (Poisson errors,
    empty bins weighted as one count) on [lo, hi]; the convolution is numerical on a
    0.05 GeV grid. Returns NaNs with fewer
    than 50 pairs in range.
    """
    mass = np.asarray(mass, np.float64)
    inside = mass[(mass > lo) & (mass < hi)]
    nan = float("nan")
    if len(inside) < 50:
        return {"peak": nan, "sigma": nan, "peak_err": nan, "sigma_err": nan, "n": len(inside)}
    counts, edges = np.histogram(inside, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    step = 0.05
    grid = np.arange(lo - 30.0, hi + 30.0, step)
    u = np.arange(-30.0, 30.0 + step / 2, step)
    half = Z_WIDTH_GEV / 2.0
    bw = half / np.pi / ((grid - Z_MASS_GEV) ** 2 + half**2)

    def model(x, norm, shift, sigma, alpha):
        kernel = crystal_ball(u - shift, abs(sigma), alpha, CB_TAIL_POWER)
        kernel = kernel / (kernel.sum() * step)
        conv = np.convolve(bw, kernel, mode="same") * step
        return norm * width * np.interp(x, grid, conv)

    p0 = (len(inside), 0.0, 2.0, 1.0)
    bounds = ([0.0, -5.0, 0.3, 0.5], [10 * len(mass) + 10, 5.0, 10.0, 5.0])
    popt, pcov = curve_fit(
        model,
        centres,
        counts,
        p0=p0,
        bounds=bounds,
        sigma=np.sqrt(np.maximum(counts, 1.0)),
        absolute_sigma=True,
    )
    err = np.sqrt(np.diag(pcov))
    return {
        "peak": float(Z_MASS_GEV + popt[1]),
        "sigma": float(abs(popt[2])),
        "peak_err": float(err[1]),
        "sigma_err": float(err[2]),
        "alpha": float(popt[3]),
        "n": len(inside),
        "norm": float(popt[0]),
        "_model": lambda x, p=popt: model(x, *p),
    }


def fit_gaussian_core(
    values: np.ndarray, lo: float, hi: float, bins: int = 120, n_sigma: float = 1.5
) -> tuple[float, float]:
    """Mean and σ of a Gaussian fitted to the core of a distribution.

    ln(counts) of a histogram is fitted with a parabola (weights √counts) within
    ±n_sigma·σ of the current mean, starting from the median and a robust width
    (half the 16–84 % interquantile range), iterated five times. Returns ``(nan, nan)``
    with fewer than 50 entries.
    """
    values = np.asarray(values, np.float64)
    values = values[(values > lo) & (values < hi)]
    if len(values) < 50:
        return float("nan"), float("nan")
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[1:] + edges[:-1])
    mean = float(np.median(values))
    sigma = float(0.5 * (np.quantile(values, 0.84) - np.quantile(values, 0.16)))
    for _ in range(5):
        m = (np.abs(centres - mean) < n_sigma * sigma) & (counts > 0)
        if m.sum() < 4:
            break
        a, b, _c = np.polyfit(centres[m], np.log(counts[m]), 2, w=np.sqrt(counts[m]))
        if a >= 0:
            break
        sigma = float(np.sqrt(-1.0 / (2.0 * a)))
        mean = float(-b / (2.0 * a))
    return mean, sigma


#: The tree of an egamma-cnn sample file.
TREE_NAME = "Events"
#: Branches every validated file needs (the electrons and the cells of their shower shapes).
_NEEDED_BRANCHES = (
    "nElectron",
    *(f"Electron_{name}" for name in ("pt", "eta", "phi", "charge")),
    *(f"Electron_{name}" for name in ("clusterEta", "clusterPhi", "clusterE")),
    "nCaloCell",
    *(f"CaloCell_{name}" for name in ("eta", "phi", "energy", "sampling")),
)
#: Truth branches of simulated files that the MC validation reads.
_TRUTH_BRANCHES = ("Electron_truthClass", "Electron_truthPt", "Electron_truthEta")
#: Provenance entries the MC validation reads.
_NEEDED_METADATA = ("process", "n_events")
#: The processes whose files give Z-like pairs (the m_ee fit, the data/MC comparison).
_ZEE_PROCESSES = ("zee", "zeegamma")


def check_sample(path: Path, need_truth: bool = True) -> None:
    """Refuse a file that :func:`validate` cannot read, before anything is written.

    Raises
    ------
    OSError
        The file is missing or no readable ROOT file.
    ValueError
        No ``Events`` tree (the message lists the file's objects), branches missing (named),
        and with ``need_truth``: no truth branches, or no provenance object with the
        process and the number of events.
    """
    with open_root_file(path) as fin:
        if TREE_NAME not in fin:
            raise ValueError(
                f"{path}: no {TREE_NAME!r} tree, which egamma-cnn sample files have "
                f"(the file has: {object_names(fin)})"
            )
        keys = set(fin[TREE_NAME].keys())
    if need_truth and "Electron_truthClass" not in keys:
        raise ValueError(f"{path}: no truth branches (data-like file?); validation needs MC")
    needed = _NEEDED_BRANCHES + (_TRUTH_BRANCHES if need_truth else ())
    missing = [name for name in needed if name not in keys]
    if missing:
        raise ValueError(
            f"{path}: the {TREE_NAME!r} tree lacks the branches {', '.join(missing)} "
            "that validation needs"
        )
    if need_truth:
        metadata = read_metadata(path)
        absent = [key for key in _NEEDED_METADATA if key not in metadata]
        if absent:
            raise ValueError(
                f"{path}: the {METADATA_KEY!r} object lacks {', '.join(absent)}, "
                "which validation reports"
            )


def _load(path: Path, need_truth: bool = True) -> tuple[ak.Array, ak.Array]:
    check_sample(path, need_truth)
    with open_root_file(path) as f:
        arrays = f[TREE_NAME].arrays(
            filter_name=["nElectron", "Electron_*", "nCaloCell", "CaloCell_*"]
        )
    el = ak.zip(
        {k[len("Electron_") :]: arrays[k] for k in arrays.fields if k.startswith("Electron_")}
    )
    cells = ak.zip(
        {k[len("CaloCell_") :]: arrays[k] for k in arrays.fields if k.startswith("CaloCell_")}
    )
    return el, cells


def z_electron_shapes(path: Path) -> dict[str, np.ndarray]:
    """Shower shapes of electrons from Z-like pairs, without truth (data or MC).

    Events with two opposite-charge electrons of p_T > 25 GeV, |η| < 2.47 and
    80 < m_ee < 100 GeV; both electrons are used.
    """
    el, cells = _load(path, need_truth=False)
    shapes = shower_shapes(cells, el)
    good = (el.pt > 25) & (np.abs(el.clusterEta) < 2.47)
    el, shapes = el[good], shapes[good]
    pairs = ak.combinations(ak.local_index(el), 2)
    a, b = el[pairs["0"]], el[pairs["1"]]
    m2 = 2 * a.pt * b.pt * (np.cosh(a.eta - b.eta) - np.cos(a.phi - b.phi))
    ok = (a.charge != b.charge) & (m2 > 80.0**2) & (m2 < 100.0**2)
    first = ak.any(ok, axis=1)
    # the first Z-like pair of an event contributes both its electrons
    best = ak.argmax(ok, axis=1, keepdims=True)
    idx = ak.concatenate([pairs["0"][best], pairs["1"][best]], axis=1)
    # every event left has a pair: no missing index, and a plain (non-option) integer
    # index, which awkward slices correctly however few events are left
    idx = ak.values_astype(ak.fill_none(idx[first], 0), np.int64)
    sel = ak.to_packed(shapes[first])[idx]
    return {n: ak.to_numpy(ak.fill_none(ak.flatten(sel[n]), np.nan)) for n in SHOWER_SHAPE_NAMES}


def compare_data_mc(mc_files: list[Path], data_files: list[Path], out_dir: Path) -> dict:
    """Shower shapes of Z-like electrons in data-like versus MC files (no truth used).

    Writes ``data_mc_shower_shapes.png`` and returns the medians per variable, so that
    the documented differences of the data-like detector (wider, deeper showers) can be
    seen: larger w_η2, smaller R_η and R_φ, larger f3 in data.
    """
    import matplotlib.pyplot as plt

    mc = [z_electron_shapes(f) for f in mc_files]
    data = [z_electron_shapes(f) for f in data_files]
    mc = {n: np.concatenate([m[n] for m in mc]) for n in SHOWER_SHAPE_NAMES}
    data = {n: np.concatenate([d[n] for d in data]) for n in SHOWER_SHAPE_NAMES}
    out = {"n_mc": len(mc["reta"]), "n_data": len(data["reta"]), "median": {}}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, name in zip(axes.ravel(), _SHAPE_RANGES, strict=True):
        lo, hi, label = _SHAPE_RANGES[name]
        if name in ("reta", "rphi"):
            lo = 0.8
        edges = np.linspace(lo, hi, 41)
        centres = 0.5 * (edges[1:] + edges[:-1])
        h_mc, _ = np.histogram(np.clip(mc[name], lo, hi), bins=edges)
        h_d, _ = np.histogram(np.clip(data[name], lo, hi), bins=edges)
        width = edges[1] - edges[0]
        ax.stairs(
            h_mc / max(h_mc.sum(), 1) / width,
            edges,
            fill=True,
            alpha=0.4,
            color="tab:blue",
            label=f"MC ({len(mc[name])})",
        )
        ax.errorbar(
            centres,
            h_d / max(h_d.sum(), 1) / width,
            yerr=np.sqrt(h_d) / max(h_d.sum(), 1) / width,
            fmt="ko",
            ms=3,
            label=f"data-like ({len(data[name])})",
        )
        ax.set_xlabel(label)
        ax.set_ylabel("Normalised")
        out["median"][name] = {
            "mc": float(np.median(mc[name])),
            "data": float(np.median(data[name])),
        }
    axes[0, 0].legend(fontsize=9, loc="upper left")
    fig.suptitle(r"Z$\to$ee electrons ($p_T>25$ GeV, $80<m_{ee}<100$ GeV)", fontsize=12)
    fig.tight_layout()
    save_figure(fig, Path(out_dir) / "data_mc_shower_shapes.png", dpi=100)
    return out


def per_event_squares(truth_class: ak.Array) -> list[int]:
    """Σ over events of (candidates of class c in the event)², for each of the six classes:
    with the counts, what :func:`per_file_consistency` needs for per-event errors."""
    per_event = np.stack(
        [ak.to_numpy(ak.sum(truth_class == int(c), axis=1)) for c in CLASS_LABELS], axis=1
    ).astype(np.int64)
    return (per_event**2).sum(axis=0).tolist()


def per_file_consistency(files: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Whether the candidates per event of each truth class agree between files.

    For each class of :data:`CLASS_LABELS`, :func:`egamma_cnn.intervals.rate_homogeneity`
    of the files' candidates per event, with each file's error from the spread of its
    events (one-way analysis of variance). Files of one process made with different
    seeds must agree (p-value not small, F ≈ 1); a sample whose make-up depends on its
    seed (pile-up copied from a small pool into many events) does not. The errors are
    per event, not Poisson per candidate: the fakes of one event come in clusters (one
    jet, several candidates), which widens every file's error alike.

    Parameters
    ----------
    files
        One entry per file: ``n_events``, ``class_counts`` (six counts) and
        ``class_counts_squared`` (:func:`per_event_squares`).

    Returns
    -------
    dict
        ``{class label: {"per_event", "per_file", "f_statistic", "ndof", "p_value"}}``;
        empty for fewer than two files.
    """
    if len(files) < 2:
        return {}
    events = np.array([f["n_events"] for f in files], np.float64)
    counts = np.array([f["class_counts"] for f in files], np.float64)
    squares = np.array([f["class_counts_squared"] for f in files], np.float64)
    out = {}
    for c, label in CLASS_LABELS.items():
        test = rate_homogeneity(counts[:, c], squares[:, c], events)
        out[label] = {
            "per_event": test.rate,
            "per_file": list(test.rates),
            "f_statistic": test.f_statistic,
            "ndof": list(test.ndof),
            "p_value": test.p_value,
        }
    return out


def validate(files: list[Path], out_dir: Path, data_files: list[Path] | None = None) -> dict:
    """Validation plots and summary for MC sample files (see module docstring).

    With ``data_files`` (data-like samples) the shower shapes of Z-like electrons are
    also compared between data and MC (:func:`compare_data_mc`). The plots are drawn in
    mplhep's ATLAS style, set for this call only.
    """
    import mplhep

    plt = pyplot()
    with plt.style.context(mplhep.style.ATLAS):
        return _validate(plt, files, out_dir, data_files)


def check_inputs(files: list[Path], data_files: list[Path] | None = None) -> None:
    """Refuse what :func:`validate` cannot validate, before anything is written.

    Every file must be a readable sample (:func:`check_sample`), each given once (also
    through a link or another spelling of its path: the same file twice would double
    every count); the ``files`` are simulation and the ``data_files`` data-like samples,
    as their provenance (``is_data``) says; and a data/MC comparison needs a Z→ee MC file
    among the ``files``.

    Raises
    ------
    OSError, ValueError
        The first file that is not one of these, named with what is wrong.
    """
    seen: dict[tuple[int, int], Path] = {}
    for path, is_data in [*((f, False) for f in files), *((f, True) for f in data_files or ())]:
        check_sample(path, need_truth=not is_data)
        info = Path(path).stat()
        first = seen.get((info.st_dev, info.st_ino))
        if first is not None:
            raise ValueError(f"{path} is {first} again: give each file once")
        seen[(info.st_dev, info.st_ino)] = Path(path)
        said = _is_data(path)
        if said is not None and said != is_data:
            kind = "data-like" if said else "simulation (MC)"
            option = "--data" if said else "the MC files (not --data)"
            raise ValueError(f"{path} is {kind} by its provenance: give it as {option}")
    if data_files and not any(read_metadata(f).get("process") in _ZEE_PROCESSES for f in files):
        raise ValueError(
            "the data/MC comparison (--data) needs a Z→ee MC file among the files "
            f"(process {' or '.join(_ZEE_PROCESSES)})"
        )


def _is_data(path: Path) -> bool | None:
    """What a sample's provenance says (``is_data``), None when it has none."""
    try:
        value = read_metadata(path).get("is_data")
    except (KeyError, ValueError):
        return None
    return value if isinstance(value, bool) else None


def _validate(plt: Any, files: list[Path], out_dir: Path, data_files: list[Path] | None) -> dict:
    check_inputs(files, data_files)
    inputs = {"files": [str(f) for f in files], "data_files": [str(f) for f in data_files or ()]}
    with run_folder(out_dir, workflow="validate", inputs=inputs) as staging:
        return _write_validation(plt, files, staging, data_files)


def _write_validation(
    plt: Any, files: list[Path], out_dir: Path, data_files: list[Path] | None
) -> dict:
    summary: dict = {"files": [str(f) for f in files], "processes": {}}
    all_shapes = []
    all_class = []
    response = []
    response_eta = []
    mee = []
    mee_central = []
    for path in files:
        meta = read_metadata(path)
        el, cells = _load(path)
        shapes = shower_shapes(cells, el)
        flat_cls = ak.to_numpy(ak.flatten(el.truthClass))
        all_class.append(flat_cls)
        all_shapes.append({n: ak.to_numpy(ak.flatten(shapes[n])) for n in SHOWER_SHAPE_NAMES})
        counts = np.bincount(flat_cls, minlength=6)
        summary["processes"].setdefault(meta["process"], {"n_events": 0, "class_counts": [0] * 6})
        proc = summary["processes"][meta["process"]]
        proc["n_events"] += int(meta["n_events"])
        proc["class_counts"] = (np.asarray(proc["class_counts"]) + counts).tolist()
        proc.setdefault("files", []).append(
            {
                "file": Path(path).name,
                "n_events": len(el),
                "class_counts": counts.tolist(),
                "class_counts_squared": per_event_squares(el.truthClass),
            }
        )
        prompt = el[(el.truthClass == 0) & (el.pt > 20)]
        e_true = prompt.truthPt * np.cosh(prompt.truthEta)
        response.append(ak.to_numpy(ak.flatten(prompt.clusterE / e_true)))
        response_eta.append(ak.to_numpy(ak.flatten(np.abs(prompt.clusterEta))))
        if meta["process"] in _ZEE_PROCESSES:
            sel = el[(el.pt > 20) & (np.abs(el.clusterEta) < 2.47)]
            sel = sel[ak.argsort(sel.pt, ascending=False)]
            two = sel[ak.num(sel) >= 2]
            a, b = two[:, 0], two[:, 1]
            opp = a.charge != b.charge
            a, b = a[opp], b[opp]
            m2 = 2 * a.pt * b.pt * (np.cosh(a.eta - b.eta) - np.cos(a.phi - b.phi))
            mee.append(ak.to_numpy(np.sqrt(np.maximum(m2, 0))))
            mee_central.append(
                ak.to_numpy((np.abs(a.clusterEta) < 1.37) & (np.abs(b.clusterEta) < 1.37))
            )

    cls = np.concatenate(all_class) if all_class else np.zeros(0, np.int64)
    shapes = {n: np.concatenate([s[n] for s in all_shapes]) for n in SHOWER_SHAPE_NAMES}

    # Z peak
    if mee:
        m = np.concatenate(mee)
        central = np.concatenate(mee_central)
        fit_all = fit_z_peak(m)
        fit_bb = fit_z_peak(m[central])
        summary["zee_mass"] = {
            "n_pairs": len(m),
            "inclusive": {k: v for k, v in fit_all.items() if not k.startswith("_")},
            "barrel_barrel": {k: v for k, v in fit_bb.items() if not k.startswith("_")},
            "peak_within_1gev_of_91p2": bool(abs(fit_all["peak"] - 91.19) < 1.0),
            "core_sigma_in_1p5_3gev": bool(1.5 <= fit_all["sigma"] <= 3.0),
        }
        fig, ax = plt.subplots(figsize=(7, 5))
        bins = np.linspace(60, 120, 61)
        ax.hist(m, bins=bins, histtype="step", color="k", label="all pairs")
        ax.hist(
            m[central], bins=bins, histtype="step", color="tab:blue", label=r"both $|\eta|<1.37$"
        )
        xs = np.linspace(75, 105, 300)
        for fit, colour, label in ((fit_all, "r", "all"), (fit_bb, "tab:blue", "central")):
            if np.isfinite(fit["sigma"]):
                # the model is per fit bin (0.5 GeV); the histogram has 1 GeV bins
                ys = 2.0 * fit["_model"](xs)
                ax.plot(
                    xs,
                    ys,
                    color=colour,
                    ls="--",
                    label=rf"BW$\otimes$CB ({label}): peak {fit['peak']:.2f}, "
                    f"σ {fit['sigma']:.2f} GeV",
                )
        ax.set_xlabel(r"$m_{ee}$ [GeV]")
        ax.set_ylabel("Pairs / GeV")
        ax.legend(loc="upper left", fontsize=9)
        fig.tight_layout()
        save_figure(fig, out_dir / "zee_mass.png", dpi=110)

    # energy response
    if response and len(np.concatenate(response)):
        r = np.concatenate(response)
        r_eta = np.concatenate(response_eta)
        summary["energy_response"] = {
            "n": len(r),
            "median": float(np.median(r)),
            "iqr_over_1p349": float((np.quantile(r, 0.75) - np.quantile(r, 0.25)) / 1.349),
        }
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
        ax1.hist(r, bins=80, range=(0.8, 1.2), histtype="step", color="k")
        ax1.set_xlabel(r"$E_{reco}/E_{true}$ (prompt electrons, $p_T>20$ GeV)")
        ax1.set_ylabel("Electrons")
        edges = np.linspace(0, 2.5, 11)
        idx = np.digitize(r_eta, edges) - 1
        med = [
            np.median(r[idx == i]) if np.sum(idx == i) > 10 else np.nan
            for i in range(len(edges) - 1)
        ]
        ax2.plot(0.5 * (edges[1:] + edges[:-1]), med, "ko")
        ax2.axhline(1.0, color="gray", ls="--")
        ax2.set_ylim(0.95, 1.05)
        ax2.set_xlabel(r"$|\eta_{cluster}|$")
        ax2.set_ylabel(r"median $E_{reco}/E_{true}$")
        fig.tight_layout()
        save_figure(fig, out_dir / "energy_response.png", dpi=110)

    # shower shapes per class
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    summary["shower_shapes_median"] = {}
    for ax, name in zip(axes.ravel(), _SHAPE_RANGES, strict=True):
        lo, hi, label = _SHAPE_RANGES[name]
        for c, lab in CLASS_LABELS.items():
            v = shapes[name][cls == c]
            if len(v) < 20:
                continue
            ax.hist(
                np.clip(v, lo, hi),
                bins=50,
                range=(lo, hi),
                histtype="step",
                density=True,
                color=CLASS_COLOURS[c],
                lw=2 if c == ElectronClass.PROMPT else 1.2,
                label=f"{lab} ({len(v)})",
            )
            summary["shower_shapes_median"].setdefault(lab, {})[name] = float(np.median(v))
        ax.set_xlabel(label)
        ax.set_ylabel("Normalised")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, out_dir / "shower_shapes.png", dpi=100)

    # class composition per process
    procs = sorted(summary["processes"])
    fig, ax = plt.subplots(figsize=(9, 5))
    bottom = np.zeros(len(procs))
    for c, lab in CLASS_LABELS.items():
        frac = np.array(
            [
                summary["processes"][p]["class_counts"][c]
                / max(sum(summary["processes"][p]["class_counts"]), 1)
                for p in procs
            ]
        )
        ax.bar(procs, 100 * frac, bottom=100 * bottom, label=lab, color=CLASS_COLOURS[c])
        bottom += frac
    for p in procs:
        cc = np.asarray(summary["processes"][p]["class_counts"])
        summary["processes"][p]["class_percent"] = (100 * cc / max(cc.sum(), 1)).round(2).tolist()
        summary["processes"][p]["per_file_consistency"] = per_file_consistency(
            summary["processes"][p]["files"]
        )
    ax.set_ylabel("Electron candidates [%]")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    save_figure(fig, out_dir / "class_composition.png", dpi=110)

    if data_files:
        summary["data_vs_mc"] = compare_data_mc(list(files), list(data_files), out_dir)
    write_json(summary, out_dir / "summary.json")
    return summary
