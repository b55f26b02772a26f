"""The electron CNN column after the read: before/after, onnxruntime settings, reduced precision.

Measures, in one run and on one core (numba and onnxruntime single-threaded), on events
already read (every branch the column needs is in memory):

* **column** — ``electron_identification`` per electron, the current path (only the HLVs
  the model reads, the cells identified once for the images and the HLVs, the track
  columns cut to the candidates' own tracks) against the former one
  (``all_features=True``: every output of the HLVs' feature groups as awkward records,
  the cells identified twice, every track converted), the two alternated call by call
  with the memo cleared before each, best of ``--repeat``; and the photon column;
* **split** — the parts of the current path: images, track arrays, HLVs, inference;
* **onnxruntime settings** — the inference alone (the model's numpy inputs fixed) for each
  session setting against the package's setting (graph optimisation ``ORT_ENABLE_ALL``,
  1 intra-op and 1 inter-op thread, sequential execution, memory pattern and arena on,
  batches of 256), each setting alternated with that reference;
* **reduced precision** — float16 (``onnxruntime.transformers.float16``, inputs and
  outputs kept float32) and int8 models (``onnxruntime.quantization.quantize_dynamic``,
  int8 and uint8 weights; ``quantize_static`` QDQ calibrated on the first 512 electrons,
  for comparison): inference time, the largest change of a class probability and, per
  working point of the model, the change of the signal efficiency (truth classes prompt
  and charge-flip, the model's charge-flip-as-signal default) and of the background
  efficiency (the other classes) in absolute percent. The criterion of issue 19 is
  |Δ| ≤ 0.1 % for every working point, signal and background.

Run::

    python benchmarks/bench_scoring.py SAMPLE.root [--entries N] [--repeat 5]

and paste the printed tables into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import awkward as ak
import numpy as np
import onnxruntime as ort
from timing import best_time

from egamma_cnn.columnar import clear_memo, field_of
from egamma_cnn.features.columns import feature_values, needed_columns
from egamma_cnn.identification import (
    _electron_columns,
    _hlv_groups,
    load_identification_model,
    photon_identification,
)
from egamma_cnn.images import electron_image_batch, track_array_batch
from egamma_cnn.model.discriminant import discriminant
from egamma_cnn.nanoevents import open_events

_SIGNAL_CLASSES = (0, 1)  # prompt, charge_flip (truthClass)


def _materialise(events) -> None:
    """Read every branch of the collections the columns use (eager NanoEvents keep them)."""
    for collection in ("CaloCell", "Track", "Electron", "Photon"):
        for name in events[collection].fields:
            ak.to_numpy(ak.flatten(events[collection][name], axis=None)[:1])


def _alternated(functions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best wall time of each function, the functions called in turn ``repeat`` times.

    Alternating puts the same load of the shared machine on every variant.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            clear_memo()
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def column_times(events, repeat: int) -> tuple[dict[str, float], int, int]:
    def electrons(all_features: bool) -> Callable[[], object]:
        return lambda: (
            _electron_columns(
                events.CaloCell, events.Track, events.Electron, all_features=all_features
            ).cnn_score
        )

    def photons() -> object:
        return photon_identification(events.CaloCell, events.Photon).cnn_score

    for function in (electrons(True), electrons(False), photons):  # warm-up: numba, sessions
        clear_memo()
        function()
    times = _alternated(
        {"before": electrons(True), "after": electrons(False), "photon": photons}, repeat
    )
    n_electrons = len(ak.flatten(events.Electron.clusterE))
    n_photons = len(ak.flatten(events.Photon.clusterE))
    return times, n_electrons, n_photons


def model_inputs(events, model) -> dict[str, np.ndarray]:
    """The model's raw numpy inputs of every electron (what the column gives ``predict``)."""
    groups = _hlv_groups(model)
    columns = needed_columns(
        events.CaloCell, events.Track, events.Electron, None, "electron", groups
    )
    hlv_names = tuple(model.metadata["hlv_names"])
    values = feature_values(columns, kind="electron", groups=groups, names=hlv_names)
    return {
        **electron_image_batch(events.CaloCell, events.Electron),
        "tracks": track_array_batch(events.Track, events.Electron),
        "hlv": np.stack([values[n].astype(np.float32) for n in hlv_names], axis=1),
    }


def split_times(events, model, repeat: int) -> dict[str, float]:
    groups = _hlv_groups(model)
    hlv_names = tuple(model.metadata["hlv_names"])
    columns = needed_columns(
        events.CaloCell, events.Track, events.Electron, None, "electron", groups
    )
    inputs = model_inputs(events, model)
    return {
        "images": best_time(lambda: electron_image_batch(events.CaloCell, events.Electron), repeat),
        "track arrays": best_time(lambda: track_array_batch(events.Track, events.Electron), repeat),
        "HLVs (model's only)": best_time(
            lambda: feature_values(columns, kind="electron", groups=groups, names=hlv_names),
            repeat,
        ),
        "HLVs (all of their groups)": best_time(
            lambda: feature_values(columns, kind="electron", groups=groups), repeat
        ),
        "inference": best_time(lambda: model.predict(inputs), repeat),
    }


def _transformed(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inputs as the session receives them (float32, quantile tables applied)."""
    out = {}
    for spec in model.inputs:
        array = np.asarray(inputs[spec.name]).astype(np.float32, copy=False)
        if spec.name in model.preprocessing:
            array = model.preprocessing[spec.name].transform(array)
        out[spec.name] = np.ascontiguousarray(array, np.float32)
    return out


def _session(path: str | Path, **settings) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = settings.get(
        "level", ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    options.intra_op_num_threads = settings.get("intra", 1)
    options.inter_op_num_threads = settings.get("inter", 1)
    options.execution_mode = settings.get("mode", ort.ExecutionMode.ORT_SEQUENTIAL)
    options.enable_mem_pattern = settings.get("mem_pattern", True)
    options.enable_cpu_mem_arena = settings.get("arena", True)
    for key, value in settings.get("config", {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _runner(session, arrays: dict[str, np.ndarray], batch: int) -> Callable[[], np.ndarray]:
    output = session.get_outputs()[0].name
    n = len(next(iter(arrays.values())))

    def run() -> np.ndarray:
        return np.concatenate(
            [
                session.run([output], {k: v[start : start + batch] for k, v in arrays.items()})[0]
                for start in range(0, n, batch)
            ]
        )

    return run


_ORT_SETTINGS: dict[str, dict] = {
    "optimisation ORT_DISABLE_ALL": {"level": ort.GraphOptimizationLevel.ORT_DISABLE_ALL},
    "optimisation ORT_ENABLE_BASIC": {"level": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC},
    "optimisation ORT_ENABLE_EXTENDED": {"level": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED},
    "batch 16": {"batch": 16},
    "batch 64": {"batch": 64},
    "batch 1024": {"batch": 1024},
    "batch 4096": {"batch": 4096},
    "2 intra-op threads": {"intra": 2},
    "0 intra-op threads (onnxruntime's choice)": {"intra": 0},
    "ORT_PARALLEL, 2 inter-op threads": {"mode": ort.ExecutionMode.ORT_PARALLEL, "inter": 2},
    "memory pattern off": {"mem_pattern": False},
    "CPU memory arena off": {"arena": False},
    "denormals as zero": {"config": {"session.set_denormal_as_zero": "1"}},
}


def ort_settings_table(model, arrays, repeat: int) -> list[tuple[str, float, float]]:
    path = model.path
    reference = _runner(_session(path), arrays, 256)
    reference()
    rows = []
    for name, settings in _ORT_SETTINGS.items():
        variant = _runner(_session(path, **settings), arrays, settings.get("batch", 256))
        variant()
        times = _alternated({"variant": variant, "reference": reference}, repeat)
        rows.append((name, times["variant"], times["reference"]))
    return rows


def _precision_models(model, arrays, folder: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers.float16 import convert_float_to_float16

    models: dict[str, Path] = {}
    models["float16 (inputs, outputs float32)"] = folder / "fp16.onnx"
    onnx.save(
        convert_float_to_float16(onnx.load(str(model.path)), keep_io_types=True),
        str(models["float16 (inputs, outputs float32)"]),
    )
    for label, weight_type in (("int8", QuantType.QInt8), ("uint8", QuantType.QUInt8)):
        out = folder / f"dynamic_{label}.onnx"
        quantize_dynamic(str(model.path), str(out), weight_type=weight_type)
        models[f"dynamic int8, {label} weights"] = out
    out = folder / "dynamic_gemm.onnx"
    quantize_dynamic(
        str(model.path),
        str(out),
        weight_type=QuantType.QUInt8,
        op_types_to_quantize=["MatMul", "Gemm"],
    )
    models["dynamic int8, dense layers only (Gemm)"] = out

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self):
            if self.start >= min(512, len(arrays["hlv"])):
                return None
            batch = {k: v[self.start : self.start + 64] for k, v in arrays.items()}
            self.start += 64
            return batch

    prepared = folder / "prepared.onnx"
    quant_pre_process(str(model.path), str(prepared))
    out = folder / "static_qdq.onnx"
    quantize_static(
        str(prepared),
        str(out),
        Calibration(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    models["static int8 QDQ (calibrated on 512 electrons)"] = out
    return models


def _efficiencies(model, probs, events) -> dict[str, tuple[float, float]]:
    settings = model.metadata.get("discriminant", {})
    score = discriminant(probs, settings.get("weights"), settings.get("charge_flip", "signal"))
    electrons = events.Electron
    eta = ak.to_numpy(ak.flatten(field_of(electrons, "clusterEta", "electron"))).astype(float)
    energy = ak.to_numpy(ak.flatten(field_of(electrons, "clusterE", "electron"))).astype(float)
    truth = ak.to_numpy(ak.flatten(electrons.truthClass))
    signal = np.isin(truth, _SIGNAL_CLASSES)
    out = {}
    for name in model.working_points.cuts:
        passes = model.working_points.passes(name, score, energy / np.cosh(eta), eta)
        out[name] = (passes[signal].mean(), passes[~signal].mean())
    return out


def precision_table(model, arrays, events, repeat: int) -> tuple[list, int, int]:
    reference_run = _runner(_session(model.path), arrays, 256)
    reference = reference_run()
    reference_eff = _efficiencies(model, reference, events)
    truth = ak.to_numpy(ak.flatten(events.Electron.truthClass))
    n_signal = int(np.isin(truth, _SIGNAL_CLASSES).sum())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, path in _precision_models(model, arrays, Path(folder)).items():
            run = _runner(_session(path), arrays, 256)
            probs = run()
            times = _alternated({"variant": run, "reference": reference_run}, repeat)
            eff = _efficiencies(model, probs, events)
            deltas = {
                wp: (100 * (eff[wp][0] - reference_eff[wp][0]), 100 * (eff[wp][1] - ref[1]))
                for wp, ref in reference_eff.items()
            }
            worst = max(abs(d) for pair in deltas.values() for d in pair)
            rows.append(
                (
                    label,
                    times["variant"],
                    times["reference"],
                    float(np.abs(probs - reference).max()),
                    deltas,
                    worst,
                )
            )
    return rows, n_signal, len(truth) - n_signal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", help="an egamma-cnn MC file (truthClass needed for precision)")
    parser.add_argument("--entries", type=int, default=None, help="first N events only")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"## Scoring columns — {datetime.date.today()} — {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores, 1 used)\n"
    )
    events = open_events(args.sample, entry_stop=args.entries)
    _materialise(events)
    model = load_identification_model(None, "electron")
    times, n, n_photons = column_times(events, args.repeat)
    print(
        f"`{args.sample}`: {len(events)} events, {n} electrons, {n_photons} photons, read "
        f"beforehand; best of {args.repeat}, alternated.\n"
    )
    print("| column | seconds | ms per candidate | / before |")
    print("|---|---|---|---|")
    for label, key, count in (
        ("electron CNN, before (all features of the groups)", "before", n),
        ("electron CNN, after (the model's features)", "after", n),
        ("photon CNN", "photon", n_photons),
    ):
        ratio = f"{times[key] / times['before']:.2f}" if key != "photon" else "—"
        print(f"| {label} | {times[key]:.3f} | {times[key] / count * 1e3:.3f} | {ratio} |")
    print()
    parts = split_times(events, model, args.repeat)
    print("Parts of the electron column, each timed alone (best of the repeats):\n")
    print("| part | seconds | ms per electron |")
    print("|---|---|---|")
    for key, seconds in parts.items():
        print(f"| {key} | {seconds:.3f} | {seconds / n * 1e3:.3f} |")
    print()
    arrays = _transformed(model, model_inputs(events, model))
    rows = ort_settings_table(model, arrays, args.repeat)
    print(
        "onnxruntime settings, inference alone, ms per electron; each setting alternated "
        "with the package's (ORT_ENABLE_ALL, 1 intra-op and 1 inter-op thread, sequential, "
        "memory pattern and arena on, batch 256):\n"
    )
    print("| setting | ms per electron | package's setting, same run | ratio |")
    print("|---|---|---|---|")
    for name, variant, reference in rows:
        print(
            f"| {name} | {variant / n * 1e3:.4f} | {reference / n * 1e3:.4f} | "
            f"{variant / reference:.2f} |"
        )
    print()
    precision, n_signal, n_background = precision_table(model, arrays, events, args.repeat)
    wps = list(model.working_points.cuts)
    print(
        f"Reduced precision: {n_signal} signal (prompt, charge-flip) and {n_background} "
        "background electrons; Δ = efficiency of the variant − float32, absolute %, "
        "signal / background per working point; criterion |Δ| ≤ 0.1 %:\n"
    )
    print(
        "| model | ms per electron | float32, same run | max abs(Δp) | "
        + " | ".join(f"Δ {wp} S / B (%)" for wp in wps)
        + " | within 0.1 % |"
    )
    print("|---|---|---|---|" + "---|" * len(wps) + "---|")
    for label, variant, reference, max_dp, deltas, worst in precision:
        cells = " | ".join(f"{deltas[wp][0]:+.3f} / {deltas[wp][1]:+.3f}" for wp in wps)
        print(
            f"| {label} | {variant / n * 1e3:.4f} | {reference / n * 1e3:.4f} | {max_dp:.2g} | "
            f"{cells} | {'yes' if worst <= 0.1 else 'no'} |"
        )


if __name__ == "__main__":
    main()
