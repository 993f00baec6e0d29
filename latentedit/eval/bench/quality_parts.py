"""The parts of ``latentedit bench quality`` (see :mod:`latentedit.eval.bench.quality`).

Each part returns ``(results dict, [table dicts])``; a table dict is ``{"title", "columns", "rows",
"note"}`` as in ``docs/BENCHMARK_SCHEMA.md``. Images are uint8 ``N×S×S×3`` at the model resolution.
"""
from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch

from ...edit.editor import Editor
from ...edit.recipe import Recipe
from ...errors import LatentEditError, ModelFormatError
from ...faces import identity_distance
from ...faceset import FaceRecord, FaceSet, FaceSetWriter
from ...latent import Boundary
from ...preprocess import from_model, to_unit
from ...synth.generate import identity_params
from ...synth.params import ExpressionParams, IDENTITY_ATTRIBUTES, IdentityParams
from ...synth.render import render
from ..metrics import lpips_distance, measure_faces, psnr, ssim, summarize
from ..oracle import AttributeOracle, default_oracle_dir
from ..report import edit_report

#: SynthFaces expression attributes an identity swap must preserve (scene/lighting excluded).
SWAP_EXPRESSION = ("eye_open", "brow_raise", "smile", "mouth_open", "gaze_x", "gaze_y", "yaw", "pitch", "roll")


def clean_json(x: Any) -> Any:
    """Make ``x`` JSON-safe: numpy scalars/arrays to Python, NaN/inf to None, floats rounded."""
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean_json(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    return x


# -- setup ------------------------------------------------------------------------------------------

def load_oracle(oracle_dir, notes: list[str]):
    """The SynthFaces oracle, or None (with a note) when its folder is missing."""
    path = Path(oracle_dir) if oracle_dir else default_oracle_dir()
    try:
        return AttributeOracle.load(path)
    except ModelFormatError as exc:
        notes.append(f"SynthFaces oracle unavailable, oracle metrics skipped: {exc}")
        return None


def run_data_specs(model_dir) -> list[str]:
    """``DECODER=FACESET[@LABEL]`` specs recorded by training in ``RUN/config.json`` (``train.data``),
    for a model given as a run folder or its ``model/`` subfolder; empty if there is none."""
    path = Path(model_dir)
    for cand in (path / "config.json", path.parent / "config.json"):
        try:
            data = json.loads(cand.read_text(encoding="utf-8")).get("train", {}).get("data")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(data, dict) and data:
            return [f"{k}={v}" for k, v in data.items()]
    return []


def _person_from_spec(model, spec: str) -> dict[str, Any]:
    """``{decoder: IdentityParams}`` from one ``DECODER=FACESET[@LABEL]`` or ``DECODER=synth:SEED:INDEX``."""
    m = re.fullmatch(r"([^=]+)=([^@]+)(?:@(.+))?", spec)
    if not m:
        raise LatentEditError(f"--data {spec!r}: expected DECODER=FACESET[@LABEL] or DECODER=synth:SEED:INDEX")
    name, folder, label = m.groups()
    if name not in model.identities:
        raise LatentEditError(f"--data {spec!r}: the model has no decoder {name!r} (decoders: "
                              f"{', '.join(model.identities)})")
    syn = re.fullmatch(r"synth:(\d+):(\d+)", folder)
    if syn:  # identity INDEX of SynthFaces dataset SEED, no files needed
        return {name: identity_params(int(syn.group(1)), int(syn.group(2)))}
    fs = FaceSet(folder)
    if label:
        fs = fs.filter(identity=label)
    recs = [r for r in fs.records if all(r.attribute_sources.get(a) == "ground_truth" for a in IDENTITY_ATTRIBUTES)]
    if not recs:
        raise LatentEditError(f"--data {spec!r}: {folder} has no SynthFaces ground-truth identity attributes")
    vals = np.array([[r.attributes[a] for a in IDENTITY_ATTRIBUTES] for r in recs])
    if np.ptp(vals, axis=0).max() > 1e-5:
        raise LatentEditError(f"--data {spec!r}: {folder} holds several people; name one with @LABEL "
                              f"(identities: {', '.join(fs.identities[:10])})")
    return {name: IdentityParams.from_attributes(recs[0].attributes)}


def synth_people(model, data_specs: Sequence[str], synth_seed: int, notes: list[str],
                 model_dir=None) -> dict[str, Any]:
    """Map decoders to SynthFaces identities (``IdentityParams``; None for ``generic`` = fresh people).

    Args:
        model: the SwapAutoencoder.
        data_specs: ``DECODER=FACESET[@LABEL]`` strings (SynthFaces FaceSets with ground truth).
        synth_seed: dataset seed for decoders named ``idNNN`` without a spec.
        notes: caveats are appended here.
        model_dir: the model argument; when ``data_specs`` is empty, a training run's recorded
            ``train.data`` is used (see :func:`run_data_specs`) if its FaceSets still exist.

    Raises:
        LatentEditError: for a malformed spec, an unknown decoder, or a FaceSet without one person's
            ground-truth identity attributes.
    """
    people: dict[str, Any] = {}
    explicit = bool(data_specs)
    if not explicit and model_dir is not None:
        found = run_data_specs(model_dir)
        if found and all(Path(sp.split("=", 1)[1].split("@")[0]).is_dir() for sp in found):
            data_specs = found
    for spec in data_specs:
        try:
            people.update(_person_from_spec(model, spec))
        except LatentEditError as exc:
            if explicit:
                raise
            notes.append(f"training run's --data {spec} not used for SynthFaces parts: {exc}")
    if people and not explicit:
        notes.append("decoder people taken from the training run's config: " + ", ".join(sorted(people)))
    for name in model.identities:
        if name in people:
            continue
        if name == "generic":
            people[name] = None
        elif re.fullmatch(r"id\d+", name):
            people[name] = identity_params(synth_seed, int(name[2:]))
            notes.append(f"decoder {name!r} taken to be SynthFaces identity {int(name[2:])} of seed {synth_seed} "
                         "(pass --data to say otherwise)")
    return people


def _render(person, exprs, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    idents = [person if person is not None else IdentityParams.sample(rng) for _ in exprs]
    return np.stack([render(i, e, size).image for i, e in zip(idents, exprs)]), idents


def _exprs(n: int, rng: np.random.Generator) -> list:
    return [ExpressionParams.sample(rng) for _ in range(n)]


def _to_t(x: np.ndarray):
    """uint8 ``N×S×S×3`` → float32 ``N×3×S×S`` in [0, 1] (the metrics' ``data_range=1`` input)."""
    return torch.from_numpy(to_unit(x)).permute(0, 3, 1, 2)


def _decode(editor, crops: np.ndarray, identity: str) -> np.ndarray:
    """Encode uint8 crops and decode them as ``identity`` (uint8 out)."""
    z = editor.encode_crops(list(crops))
    rgb, _ = editor.decode(z, identity)
    return from_model(rgb)


def _blur(x: np.ndarray) -> np.ndarray:
    sigma = 1.5 * x.shape[1] / 64
    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma) for im in x])


def descriptors(images: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """dlib descriptors of uint8 crops; identical images (e.g. a repeated mean face) are measured once."""
    cache = {} if cache is None else cache
    keys = [hash(im.tobytes()) for im in images]
    todo = {k: i for i, k in enumerate(keys) if k not in cache}
    if todo:
        got = measure_faces(np.stack([images[i] for i in todo.values()])).descriptors
        cache.update(zip(todo, got))
    return np.stack([cache[k] for k in keys])


def image_metrics(pred: np.ndarray, ref: np.ndarray, lpips_model=None, dlib: bool = False,
                  cache: dict | None = None) -> dict[str, float]:
    """Mean PSNR (dB), SSIM, LPIPS and dlib identity distance between uint8 batches ``pred`` and ``ref``.

    Args:
        pred: uint8 ``N×S×S×3``.
        ref: uint8 ``N×S×S×3``.
        lpips_model: a module from :func:`latentedit.train.lpips.load_lpips`, or None to skip LPIPS.
        dlib: also compute the mean dlib identity distance (slow: ~0.1 s per face on CPU).
        cache: descriptor cache shared between calls (the reference is measured once).
    """
    a, b = _to_t(pred), _to_t(ref)
    out = {"psnr": summarize(psnr(a, b))["mean"], "ssim": float(ssim(a, b).mean())}
    if lpips_model is not None:
        out["lpips"] = float(lpips_distance(a, b, lpips_model, data_range=1.0).mean())
    if dlib:
        cache = {} if cache is None else cache
        out["dlib_identity_distance"] = float(np.mean(identity_distance(descriptors(pred, cache),
                                                                        descriptors(ref, cache))))
    return out


def _metric_table(title: str, rows: dict[str, dict], ref: str, note: str) -> dict:
    keys = [k for k in ("psnr", "ssim", "lpips", "dlib_identity_distance") if k in rows[ref]]
    cols = ["method", "PSNR dB", "SSIM", "LPIPS", "dlib id dist"][:1] + [
        {"psnr": "PSNR dB", "ssim": "SSIM", "lpips": "LPIPS", "dlib_identity_distance": "dlib id dist"}[k] for k in keys]
    cols += [f"PSNR: {ref} − this (dB)"] + ([f"LPIPS: {ref} ÷ this"] if "lpips" in keys else [])
    out = []
    for name, r in rows.items():
        row = [name] + [r.get(k) for k in keys] + [rows[ref]["psnr"] - r["psnr"]]
        if "lpips" in keys:
            row.append(rows[ref]["lpips"] / r["lpips"] if r["lpips"] > 0 else None)
        out.append(row)
    return {"title": title, "columns": cols, "rows": out, "note": note}


# -- 1. reconstruction --------------------------------------------------------------------------------

def reconstruction_synth(editor, people: dict, n: int, seed: int, lpips_model, dlib: bool):
    """Reconstruct held-out renders of each decoder's person (fresh expressions) with that decoder."""
    s = editor.resolution
    ins, outs, means = [], [], []
    per_decoder = {}
    for k, (name, person) in enumerate(people.items()):
        rng = np.random.default_rng([seed, k])
        x, _ = _render(person, _exprs(n, rng), s, rng)
        y = _decode(editor, x, name)
        ins.append(x)
        outs.append(y)
        means.append(np.broadcast_to(x.mean(0).round().astype(np.uint8), x.shape))
        per_decoder[name] = image_metrics(y, x, lpips_model)
    x, y, mf = np.concatenate(ins), np.concatenate(outs), np.concatenate(means)
    c: dict = {}
    rows = {"model": image_metrics(y, x, lpips_model, dlib, c), "mean face": image_metrics(mf, x, lpips_model, dlib, c),
            "blurred input": image_metrics(_blur(x), x, lpips_model, dlib, c)}
    res = {"n": int(len(x)), "methods": rows, "per_decoder": per_decoder}
    return res, [_metric_table(f"Reconstruction, held-out SynthFaces renders ({len(x)} faces, {s} px)", rows,
                               "model", "inputs are fresh expressions of each decoder's person; mean face = "
                               "per-person pixel mean; blurred input = Gaussian σ 1.5 px at 64 px")]


def reconstruction_real(editor, faceset_dir, n: int, lpips_model):
    """Reconstruct the last ``n`` faces of a real-face FaceSet (dlib identity distance included)."""
    fs = FaceSet(faceset_dir)
    if len(fs) == 0:
        raise LatentEditError(f"{faceset_dir}: FaceSet is empty")
    idx = list(range(max(0, len(fs) - n), len(fs)))
    faces = editor.faces_from_faceset(fs, idx)
    for f, z in zip(faces, editor.encode_crops([f.crop for f in faces])):
        f.z = z
    x = np.stack([f.crop for f in faces])
    y = np.stack([im for im, _ in editor.render(faces, Recipe())])
    mf = np.broadcast_to(x.mean(0).round().astype(np.uint8), x.shape)
    c: dict = {}
    rows = {"model": image_metrics(y, x, lpips_model, True, c), "mean face": image_metrics(mf, x, lpips_model, True, c),
            "blurred input": image_metrics(_blur(x), x, lpips_model, True, c)}
    return ({"n": len(x), "faceset": str(faceset_dir), "methods": rows},
            [_metric_table(f"Reconstruction, real faces ({len(x)} from {Path(faceset_dir).name})", rows, "model",
                           "last N records of the FaceSet; dlib distance < 0.6 ≈ same person")])


# -- 2. swap against ground truth -----------------------------------------------------------------------

def _oracle_error(oracle, images: np.ndarray, truth: dict[str, np.ndarray], names: Sequence[str]) -> dict[str, float]:
    pred = oracle.predict(images)
    return {a: float(np.mean(np.abs(pred[a] - truth[a])) / oracle.std(a)) for a in names}


def swap_synth(editor, people: dict, n: int, seed: int, lpips_model, oracle):
    """Swap A→B and B→A on fresh renders; compare with ``render(B identity, A expression)``."""
    named = [(k, p) for k, p in people.items() if p is not None][:2]
    if len(named) < 2:
        return None
    s = editor.resolution
    rows: dict[str, list] = {"model swap": [], "source unchanged": [], "target mean face": []}
    expr_err: dict[str, list] = {"model swap": [], "ground truth (oracle floor)": [], "source unchanged": []}
    id_err: dict[str, list] = {"model swap": [], "ground truth (oracle floor)": [], "source unchanged": []}
    for k, ((na, pa), (nb, pb)) in enumerate([(named[0], named[1]), (named[1], named[0])]):
        rng = np.random.default_rng([seed, k])
        exprs = _exprs(n, rng)
        src, _ = _render(pa, exprs, s, rng)
        gt, _ = _render(pb, exprs, s, rng)
        sw = _decode(editor, src, nb)
        mf = np.broadcast_to(gt.mean(0).round().astype(np.uint8), gt.shape)
        for key, im in (("model swap", sw), ("source unchanged", src), ("target mean face", mf)):
            rows[key].append((image_metrics(im, gt, lpips_model), len(gt)))
        if oracle is not None:
            e_names = [a for a in SWAP_EXPRESSION if a in oracle.attributes]
            i_names = [a for a in IDENTITY_ATTRIBUTES if a in oracle.attributes]
            truth_e = {a: np.array([getattr(e, a) for e in exprs]) for a in e_names}
            truth_i = {a: np.full(n, getattr(pb, a)) for a in i_names}
            for key, im in (("model swap", sw), ("ground truth (oracle floor)", gt), ("source unchanged", src)):
                expr_err[key].append(_oracle_error(oracle, im, truth_e, e_names))
                id_err[key].append(_oracle_error(oracle, im, truth_i, i_names))
    pooled = {k: {m: float(np.average([r[m] for r, _ in v], weights=[w for _, w in v])) for m in v[0][0]}
              for k, v in rows.items()}
    res: dict[str, Any] = {"n": 2 * n, "directions": [f"{named[0][0]}→{named[1][0]}", f"{named[1][0]}→{named[0][0]}"],
                           "methods": pooled}
    tables = [_metric_table(f"Swap vs ground truth render(B identity, A expression) ({2 * n} swaps, both "
                            "directions)", pooled, "model swap", "source unchanged = no swap at all; target mean "
                            "face = pixel mean of B's ground-truth renders")]
    if oracle is not None:
        def avg(lst):
            return {a: float(np.mean([d[a] for d in lst])) for a in lst[0]}

        e = {k: avg(v) for k, v in expr_err.items()}
        i = {k: avg(v) for k, v in id_err.items()}
        res["expression_error"] = e
        res["identity_error"] = i
        cols = ["compared with the truth", "expression MAE (std)", "identity MAE (std)"] + list(e["model swap"])
        trows = [[k, float(np.mean(list(e[k].values()))), float(np.mean(list(i[k].values())))] + list(e[k].values())
                 for k in e]
        tables.append({"title": "Swap: oracle-read expression (A's, should be kept) and identity (B's, should be "
                                "taken) errors, mean |Δ|/std", "columns": cols, "rows": trows,
                       "note": "the oracle's error on the ground-truth render is its floor; the unchanged source "
                               "has the right expression but A's identity"})
    return res, tables


# -- 3. swap on a real pair --------------------------------------------------------------------------------

def _frames(folder: Path, n: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise LatentEditError(f"{folder}: no .jpg/.png frames")
    idx = np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)
    return [files[i] for i in idx]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def swap_real(editor, swap_dir, identities: str | None, n: int, notes: list[str]):
    """Swap real frames A→B and B→A; dlib identity distances and landmark-score correlations."""
    root = Path(swap_dir)
    dirs = sorted(d for d in root.iterdir() if d.is_dir() and d.name != "videos") if root.is_dir() else []
    if len(dirs) < 2:
        raise LatentEditError(f"--swap-pair {swap_dir}: expected two sub-folders of frames (A_*, B_*)")
    decs = identities.split(",") if identities else [i for i in editor.identities if i != "generic"][:2]
    if len(decs) != 2 or any(d not in editor.identities for d in decs):
        notes.append(f"real-face swap skipped: decoders {decs} not all in the model ({', '.join(editor.identities)}); "
                     "it needs a model trained on the pair (--swap-identities A,B)")
        return None
    crops = []
    for d in dirs[:2]:
        faces = []
        for f in _frames(d, n):
            try:
                faces.append(editor.prepare_faces(str(f), all_faces=False)[0].crop)
            except LatentEditError:
                continue
        if len(faces) < 3:
            raise LatentEditError(f"{d}: faces found in only {len(faces)} frames")
        crops.append(np.stack(faces))
    meas = [measure_faces(c) for c in crops]
    rows, res = [], {}
    shuffle = np.random.default_rng(0)
    for k, (src_i, dst_i) in enumerate(((0, 1), (1, 0))):
        sw = _decode(editor, crops[src_i], decs[dst_i])
        ms = measure_faces(sw)
        ref = meas[dst_i].descriptors
        ref_mean = ref.mean(0)
        own = meas[dst_i].descriptors
        loo = (ref.sum(0)[None] - own) / max(1, len(own) - 1)  # leave-one-out mean for the same-person floor
        r = {"to_target": float(np.mean(identity_distance(ms.descriptors, ref_mean))),
             "to_source_same_frame": float(np.mean(identity_distance(ms.descriptors, meas[src_i].descriptors))),
             "source_to_target (different people)": float(np.mean(identity_distance(meas[src_i].descriptors, ref_mean))),
             "target_to_target (same person)": float(np.mean(identity_distance(own, loo)))}
        perm = shuffle.permutation(len(sw))
        for sc in ("mouth_open_score", "eye_open_score", "smile_score"):
            r[f"corr_{sc}"] = _corr(meas[src_i].scores[sc], ms.scores[sc])
            r[f"corr_{sc}_shuffled"] = _corr(meas[src_i].scores[sc], ms.scores[sc][perm])
        name = f"{dirs[src_i].name}→{decs[dst_i]}"
        res[name] = r
        rows.append([name, len(sw), r["to_target"], r["to_source_same_frame"], r["source_to_target (different people)"],
                     r["target_to_target (same person)"], r["corr_mouth_open_score"], r["corr_mouth_open_score_shuffled"],
                     r["corr_eye_open_score"], r["corr_eye_open_score_shuffled"]])
    cols = ["swap", "frames", "id dist to B ↓", "id dist to A (same frame) ↑", "baseline: A to B", "baseline: B to B",
            "mouth corr", "mouth corr (shuffled)", "eye corr", "eye corr (shuffled)"]
    return res, [{"title": f"Swap on real frames ({root.name})", "columns": cols, "rows": rows,
                  "note": "dlib descriptor distances (< 0.6 ≈ same person); expression = Pearson correlation of "
                          "landmark scores between source and swapped frames, vs frame-shuffled pairs"}]


# -- 4. edit quality -------------------------------------------------------------------------------------

def _heldout_faceset(root: Path, people: dict, n: int, size: int, seed: int):
    """A FaceSet of fresh renders (identity = decoder name) with ground-truth attributes."""
    rng = np.random.default_rng(seed)
    named = list(people.items())
    with FaceSetWriter(root) as w:
        for j in range(n):
            name, person = named[j % len(named)]
            res = render(person if person is not None else IdentityParams.sample(rng), ExpressionParams.sample(rng),
                         size)
            attrs = {k: float(v) for k, v in res.attributes.items()}
            w.add(res.image, FaceRecord(image=w.next_name(), identity=name, size=size, landmarks=res.landmarks,
                                        attributes=attrs, attribute_sources={k: "ground_truth" for k in attrs}))
    return w.faceset()


def edit_quality(editor, people: dict, oracle, oracle_dir, attributes, n: int, alpha: float, margin: float,
                 seed: int, notes: list[str]):
    """Edit report at ±alpha for each boundary the oracle reads, plus a random-direction baseline."""
    known = [a for a in editor.attributes if a in oracle.attributes]
    attrs = list(attributes) if attributes else known
    skipped = sorted(set(editor.attributes) - set(known))
    if skipped:
        notes.append(f"edit quality: boundaries the SynthFaces oracle cannot read were skipped: {', '.join(skipped)}")
    if not attrs:
        notes.append("edit quality skipped: the model has no boundary the oracle can read")
        return None
    model = editor.model
    stds = [b.std for b in editor.boundaries.values()]
    rng = np.random.default_rng(seed)
    rand = Boundary(attribute="random_direction", normal=rng.standard_normal(int(model.config.latent_dim)),
                    std=float(np.median(stds)), model_id=str(model.model_id), method="random")
    ed = Editor(model, {**editor.boundaries, "random_direction": rand})
    kw = dict(alphas=[-alpha, alpha], n=n, margin=margin, oracle="synth", oracle_dir=oracle_dir, progress=False)
    with tempfile.TemporaryDirectory(prefix="latentedit-quality-") as tmp:
        fs = _heldout_faceset(Path(tmp) / "faces", people, n, editor.resolution, seed)
        base = edit_report(ed, None, fs, "random_direction", oracle_attribute=oracle.attributes[0], **kw)
        reports = {a: edit_report(ed, None, fs, a, **kw) for a in attrs}

    def random_abs(name: str) -> float:  # mean |Δ|/std of `name` under the random direction, at ±alpha
        vals = base.target_abs_delta_norm if name == base.oracle_attribute else base.leakage[name]
        return float(np.mean([vals[0], vals[2]]))

    rows, res = [], {}
    for a, rep in reports.items():
        lo, hi = 0, 2  # alphas [-alpha, 0, +alpha]
        leak = {k: float(np.mean([v[lo], v[hi]])) for k, v in rep.leakage.items()}
        worst = max(leak, key=leak.get)
        moved = float(np.mean([rep.target_abs_delta_norm[lo], rep.target_abs_delta_norm[hi]]))
        r = {"val_accuracy": editor.boundaries[a].val_accuracy,
             "success_rate": float(np.mean([rep.success_rate[lo], rep.success_rate[hi]])),
             "target_delta_minus": rep.target_delta_norm[lo], "target_delta_plus": rep.target_delta_norm[hi],
             "target_abs_delta": moved, "random_direction_abs_delta": random_abs(a),
             "selectivity_vs_random": moved / max(random_abs(a), 1e-9),
             "mean_leakage": float(np.mean(list(leak.values()))), "max_leakage": leak[worst], "max_leakage_attr": worst,
             "identity_drift": {k: float(np.mean([v[lo], v[hi]])) for k, v in rep.identity_drift.items()}}
        res[a] = r
        rows.append([a, r["val_accuracy"], r["success_rate"], r["target_delta_minus"], r["target_delta_plus"],
                     r["selectivity_vs_random"], r["mean_leakage"], f"{worst} {leak[worst]:.2f}",
                     r["identity_drift"].get("identity_attributes"), r["identity_drift"]["pixel_rmse_to_alpha0"]])
    bl = {k: float(np.mean([v[0], v[2]])) for k, v in base.leakage.items()}
    res["random_direction"] = {"mean_abs_delta": float(np.mean(list(bl.values()))),
                               "identity_drift": {k: float(np.mean([v[0], v[2]])) for k, v in base.identity_drift.items()}}
    rows.append(["(random direction)", None, None, None, None, 1.0, res["random_direction"]["mean_abs_delta"], "",
                 res["random_direction"]["identity_drift"].get("identity_attributes"),
                 res["random_direction"]["identity_drift"]["pixel_rmse_to_alpha0"]])
    cols = ["attribute", "boundary val acc", "success", f"target Δ @−{alpha:g} (std)", f"target Δ @+{alpha:g} (std)",
            "|Δ| ÷ random dir", "mean leakage", "worst leakage", "identity-attr drift", "pixel RMSE to α=0"]
    return ({"alpha": alpha, "n": n, "margin": margin, "attributes": res},
            [{"title": f"Edit quality at alpha ±{alpha:g} ({n} held-out renders, SynthFaces oracle)", "columns": cols,
              "rows": rows, "note": f"success = share of faces whose target moves the intended way by ≥ {margin:g} "
                                    "std; leakage/drift = mean |Δ|/std of other / identity attributes; random dir = "
                                    "a random latent direction with the median boundary std"}])
