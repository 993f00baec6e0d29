"""The edit report: sweep one attribute's edit strength over a set of faces and measure, with
oracles independent of the model, how far the target attribute moves, what else moves with it
(leakage) and how much the person changes (identity drift).

Oracles:

* ``synth`` — for FaceSets whose attributes are SynthFaces ground truth: the
  :class:`~latentedit.eval.oracle.AttributeOracle` CNN (trained only on SynthFaces renders) reads
  every SynthFaces attribute off the decoded faces. Identity drift = mean change of its identity
  attributes (in std units) and the pixel distance to the alpha = 0 decode.
* ``landmarks`` — for real faces: dlib 68 landmarks on the (upscaled) decoded faces give landmark
  scores (``smile_score``, ``mouth_open_score``, …); identity drift = dlib descriptor distance to
  the alpha = 0 decode and to the input face.

Every delta is measured against the alpha = 0 decode of the same face with the same decoder, so the
target change at alpha 0 is exactly 0 and reconstruction error does not count as an edit.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from .._io import atomic_path, atomic_write_json, atomic_write_text
from .._optional import require
from ..edit.editor import Editor
from ..edit.recipe import Recipe
from ..errors import LatentEditError
from ..faces import MEASURED_ATTRIBUTES, identity_distance
from ..faceset import FaceSet
from ..latent import load_boundaries
from ..preprocess import to_model, to_unit
from .metrics import lpips_distance, measure_faces
from .oracle import AttributeOracle, default_oracle_dir

#: Real-face oracle attribute (and sign) for boundary attributes that are not measured scores.
REAL_ORACLE_MAP: dict[str, tuple[str, float]] = {
    "Smiling": ("smile_score", 1.0), "Mouth_Slightly_Open": ("mouth_open_score", 1.0),
    "Narrow_Eyes": ("eye_open_score", -1.0), "Big_Nose": ("nose_size_score", 1.0),
    "Pointy_Nose": ("nose_length_score", 1.0), "Big_Lips": ("mouth_open_score", 1.0),
    "smile": ("smile_score", 1.0), "mouth_open": ("mouth_open_score", 1.0), "eye_open": ("eye_open_score", 1.0),
    "brow_raise": ("brow_raise_score", 1.0), "nose_length": ("nose_length_score", 1.0),
    "nose_width": ("nose_width_score", 1.0),
}
DEFAULT_ALPHAS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
REPORT_FILES = ("report.json", "report.md", "report.png")


@dataclass
class EditReport:
    """Results of an alpha sweep (one value per alpha in every list).

    Attributes:
        attribute: the edited boundary attribute.
        oracle: ``"synth"`` or ``"landmarks"``.
        oracle_attribute: the oracle output that measures the target.
        sign: +1, or -1 when more of ``attribute`` means less of ``oracle_attribute``.
        alphas: edit strengths (std units along the boundary normal), sorted, including 0.
        n_faces: faces swept.
        target_scale: the oracle attribute's std (its unit for normalised numbers).
        target_delta: mean change of the oracle target vs the alpha = 0 decode (oracle units).
        target_delta_std: std of that change across faces.
        target_delta_norm: ``sign × target_delta / target_scale``.
        target_abs_delta_norm: mean ``|Δ| / target_scale`` (how much the target moves at all).
        success_rate: share of faces whose target moved the intended way by ≥ ``margin`` std
            (None at alpha = 0).
        margin: success margin in std units.
        leakage: other oracle attribute → mean ``|Δ| / std`` per alpha.
        identity_drift: drift measure → mean value per alpha (see the module docstring).
        hold, region, identity: the edit's recipe settings.
        model_id, faceset: what was measured.
        notes: caveats (e.g. dlib fell back to the fixed box on some faces).
    """

    attribute: str
    oracle: str
    oracle_attribute: str
    sign: float
    alphas: list[float]
    n_faces: int
    target_scale: float
    target_delta: list[float]
    target_delta_std: list[float]
    target_delta_norm: list[float]
    target_abs_delta_norm: list[float]
    success_rate: list[float | None]
    margin: float
    leakage: dict[str, list[float]]
    identity_drift: dict[str, list[float]]
    hold: list[str] = field(default_factory=list)
    region: str = "none"
    identity: str | None = None
    model_id: str = ""
    faceset: str = ""
    notes: list[str] = field(default_factory=list)

    # -- summaries ----------------------------------------------------------------------------------
    def slope(self) -> float:
        """Least-squares slope of ``target_delta_norm`` against alpha (std units per alpha unit)."""
        a = np.asarray(self.alphas, float)
        y = np.asarray(self.target_delta_norm, float)
        if np.ptp(a) == 0:
            return math.nan
        return float(np.polyfit(a, y, 1)[0])

    def top_leakages(self, alpha: float | None = None, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` largest leakages at ``alpha`` (default: the alpha of largest magnitude)."""
        i = self._alpha_index(alpha)
        items = sorted(((n, v[i]) for n, v in self.leakage.items()), key=lambda t: -t[1])
        return items[:k]

    def _alpha_index(self, alpha: float | None) -> int:
        if alpha is None:
            return int(np.argmax(np.abs(self.alphas)))
        return int(np.argmin(np.abs(np.asarray(self.alphas) - alpha)))

    def summary(self, alpha: float | None = None) -> dict[str, Any]:
        """Headline numbers at one alpha (default: largest |alpha|): target Δ, success, leakage, drift."""
        i = self._alpha_index(alpha)
        leak = [v[i] for v in self.leakage.values()]
        return {"alpha": self.alphas[i], "target_delta_norm": self.target_delta_norm[i],
                "success_rate": self.success_rate[i], "mean_leakage": float(np.mean(leak)) if leak else math.nan,
                "max_leakage": float(np.max(leak)) if leak else math.nan,
                "top_leakages": self.top_leakages(self.alphas[i]),
                "identity_drift": {k: v[i] for k, v in self.identity_drift.items()}, "slope": self.slope()}

    # -- outputs -------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable dict (NaN written as null)."""
        d = asdict(self)
        d = {"format": "latentedit.edit_report", "format_version": 1, "library_version": __version__, **d,
             "summary": self.summary()}
        return _clean(d)

    def to_markdown(self) -> str:
        """A human-readable report: settings, then one table row per alpha."""
        drift_names = list(self.identity_drift)
        s = self.summary()
        lines = [f"# Edit report: `{self.attribute}`", "",
                 f"- model `{self.model_id}`, FaceSet `{self.faceset}`, {self.n_faces} faces",
                 f"- oracle: **{self.oracle}** (target measured as `{self.oracle_attribute}`"
                 f"{', reversed' if self.sign < 0 else ''}; 1 std = {self.target_scale:.4g})",
                 f"- hold: {', '.join(self.hold) or '—'}; region: {self.region}; decoder: {self.identity or 'default'}",
                 f"- success = target moves the intended way by ≥ {self.margin:g} std; leakage = mean |Δ|/std "
                 "of every other oracle attribute; all Δ are against the alpha = 0 decode",
                 f"- response: {s['slope']:.3f} std per unit alpha; at alpha {s['alpha']:g}: success "
                 f"{_fmt_pct(s['success_rate'])}, mean leakage {s['mean_leakage']:.3f}", ""]
        head = ["alpha", "target Δ (std)", "target Δ (raw)", "success", "top leakages (\\|Δ\\|/std)"] + drift_names
        lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * 4 + "---|" + "---:|" * len(drift_names)]
        for i, a in enumerate(self.alphas):
            leaks = ", ".join(f"{n} {v:.2f}" for n, v in self.top_leakages(a))
            row = [f"{a:+g}", f"{self.target_delta_norm[i]:+.3f}", f"{self.target_delta[i]:+.4f} ± "
                   f"{self.target_delta_std[i]:.4f}", _fmt_pct(self.success_rate[i]), leaks]
            row += [f"{self.identity_drift[k][i]:.4f}" for k in drift_names]
            lines.append("| " + " | ".join(row) + " |")
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def plot(self, path: str | os.PathLike) -> Path:
        """Save a 3-panel PNG: target Δ and success vs alpha, top leakages vs alpha, drift vs alpha."""
        matplotlib = require("matplotlib", "plotting an edit report")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        a = np.asarray(self.alphas)
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        ax = axes[0]
        y, e = np.asarray(self.target_delta_norm), np.asarray(self.target_delta_std) / self.target_scale
        ax.errorbar(a, y, yerr=e, marker="o", capsize=3, label=f"{self.oracle_attribute} Δ (std)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("alpha")
        ax.set_ylabel("target Δ (std units)")
        ax.set_title(f"target: {self.attribute}")
        ax2 = ax.twinx()
        sr = [np.nan if v is None else v for v in self.success_rate]
        ax2.plot(a, sr, "s--", color="tab:green", label="success rate")
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("success rate")
        names = [n for n, _ in self.top_leakages(k=6)]
        for n in names:
            axes[1].plot(a, self.leakage[n], marker=".", label=n)
        axes[1].set_xlabel("alpha")
        axes[1].set_ylabel("|Δ| / std")
        axes[1].set_title("leakage (top 6)")
        if names:
            axes[1].legend(fontsize=7)
        for n, v in self.identity_drift.items():
            axes[2].plot(a, v, marker=".", label=n)
        axes[2].set_xlabel("alpha")
        axes[2].set_title("identity drift")
        if self.identity_drift:
            axes[2].legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)
        return path

    def save(self, out: str | os.PathLike, overwrite: bool = False) -> list[Path]:
        """Write ``report.json``, ``report.md`` and ``report.png`` into ``out`` (atomically).

        Raises:
            LatentEditError: if a report file exists in ``out`` and ``overwrite`` is False.
        """
        out = Path(out)
        clash = [str(out / f) for f in REPORT_FILES if (out / f).exists()]
        if clash and not overwrite:
            raise LatentEditError(f"{', '.join(clash)} already exist(s); refusing to overwrite (choose another "
                                  "--out or pass --overwrite)")
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "report.json", self.to_json())
        atomic_write_text(out / "report.md", self.to_markdown())
        self.plot(out / "report.png")
        return [out / f for f in REPORT_FILES]


def _fmt_pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.0f}%"


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


# -- oracles ----------------------------------------------------------------------------------------

class _SynthReadout:
    """SynthFaces oracle on uint8 crops."""

    kind = "synth"

    def __init__(self, oracle) -> None:
        self.oracle = oracle
        self.names = oracle.attributes

    def measure(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float64) for k, v in self.oracle.predict(crops).items()}

    def scales(self, base: dict[str, np.ndarray]) -> dict[str, float]:
        return {n: self.oracle.std(n) for n in self.names}

    def identity_names(self) -> list[str]:
        return [n for n in self.names if self.oracle.kind(n) == "identity"]


class _LandmarkReadout:
    """dlib landmark scores + identity descriptors on uint8 crops (real faces)."""

    kind = "landmarks"

    def __init__(self) -> None:
        self.names = list(MEASURED_ATTRIBUTES)
        self.fallbacks = 0
        self.total = 0

    def measure(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        m = measure_faces(crops)
        self.fallbacks += int((~m.detected).sum())
        self.total += len(crops)
        out = {k: np.asarray(v, np.float64) for k, v in m.scores.items()}
        out["_descriptor"] = m.descriptors
        return out

    def scales(self, base: dict[str, np.ndarray]) -> dict[str, float]:
        # The natural spread of each score over the faces themselves (floored: tiny sets).
        return {n: max(float(np.std(base[n])), 1e-3) for n in self.names}

    def identity_names(self) -> list[str]:
        return []


def resolve_oracle_attribute(attribute: str, oracle_kind: str, names: Sequence[str],
                             explicit: str | None = None) -> tuple[str, float]:
    """Map a boundary attribute to the oracle output measuring it (and the sign between them).

    Args:
        attribute: boundary attribute (e.g. ``smile``, ``Smiling``).
        oracle_kind: ``"synth"`` or ``"landmarks"``.
        names: the oracle's output names.
        explicit: user override; a leading ``-`` reverses the sign (``-eye_open_score``).

    Raises:
        LatentEditError: when no oracle attribute matches (listing the choices).
    """
    if explicit:
        sign = -1.0 if explicit.startswith("-") else 1.0
        name = explicit.lstrip("+-")
        if name not in names:
            raise LatentEditError(f"--oracle-attribute {explicit!r}: the {oracle_kind} oracle measures "
                                  f"{', '.join(names)}")
        return name, sign
    if attribute in names:
        return attribute, 1.0
    if oracle_kind == "landmarks" and attribute in REAL_ORACLE_MAP:
        return REAL_ORACLE_MAP[attribute]
    raise LatentEditError(f"no {oracle_kind} oracle attribute for {attribute!r}; pass --oracle-attribute "
                          f"(one of {', '.join(names)}; prefix '-' if more {attribute} means less of it)")


def pick_oracle(faceset, attribute: str, requested: str = "auto") -> str:
    """``"synth"`` when the FaceSet's labels for ``attribute`` are SynthFaces ground truth, else ``"landmarks"``."""
    if requested in ("synth", "landmarks"):
        return requested
    if requested != "auto":
        raise LatentEditError(f"unknown oracle {requested!r}; expected auto, synth or landmarks")
    sources = [r.attribute_sources.get(attribute) for r in faceset.records if attribute in r.attribute_sources]
    if not sources:  # boundary fitted elsewhere: judge by the FaceSet as a whole
        sources = [s for r in faceset.records[:50] for s in r.attribute_sources.values()]
    return "synth" if sources and all(s == "ground_truth" for s in sources) else "landmarks"


# -- the sweep -------------------------------------------------------------------------------------

def edit_report(editor_or_model, boundaries, faceset, attribute: str,
                alphas: Sequence[float] = DEFAULT_ALPHAS, hold: Sequence[str] = (), region: str = "none",
                identity: str | None = None, n: int = 64, seed: int = 0, margin: float = 0.25,
                oracle: str = "auto", oracle_dir: str | os.PathLike | None = None,
                oracle_attribute: str | None = None, lpips_model=None, progress: bool = True) -> EditReport:
    """Sweep ``attribute``'s edit strength over faces of a FaceSet and measure it with an oracle.

    Args:
        editor_or_model: an :class:`~latentedit.edit.editor.Editor`, a ``SwapAutoencoder``, or a
            model folder path.
        boundaries: attribute → Boundary, a boundaries folder, or None (the Editor's own, or
            ``MODEL/boundaries``).
        faceset: a :class:`~latentedit.faceset.FaceSet` or its folder.
        attribute: the boundary to sweep.
        alphas: edit strengths (std units along the normal); 0 is added if missing.
        hold: attributes held fixed (conditional editing).
        region: ``none`` or a face region the edit is confined to.
        identity: decoder name (None: each face's own decoder if the model has it, else the default).
        n: faces to sweep (a seeded random subset; all if the set is smaller).
        seed: seed of the subset.
        margin: success margin in oracle-std units.
        oracle: ``auto``, ``synth`` or ``landmarks`` (see the module docstring).
        oracle_dir: SynthFaces oracle folder (default :func:`~latentedit.eval.oracle.default_oracle_dir`).
        oracle_attribute: override of the oracle output measuring the target (``-name`` reverses it).
        lpips_model: optional LPIPS module; adds ``lpips_to_alpha0`` to the identity drift.
        progress: show progress bars.

    Returns:
        The :class:`EditReport`.

    Raises:
        LatentEditError: unknown attribute/identity, empty FaceSet, missing oracle or bad alphas.
    """
    editor = _as_editor(editor_or_model, boundaries)
    if attribute not in editor.boundaries:
        raise LatentEditError(f"no boundary for {attribute!r}; loaded: {', '.join(editor.attributes) or '(none)'}")
    if not isinstance(faceset, FaceSet):
        faceset = FaceSet(faceset)
    if len(faceset) == 0:
        raise LatentEditError(f"{faceset.root}: FaceSet is empty")
    alphas = sorted({float(a) for a in alphas} | {0.0})
    if not all(math.isfinite(a) for a in alphas):
        raise LatentEditError(f"alphas must be finite numbers, got {alphas}")
    base_recipe = Recipe(edits={attribute: 0.0}, hold=list(hold), region=region, identity=identity)
    base_recipe.validate(editor.attributes, editor.identities)

    kind = pick_oracle(faceset, attribute, oracle)
    if kind == "synth":
        readout: Any = _SynthReadout(AttributeOracle.load(oracle_dir or default_oracle_dir()))
    else:
        readout = _LandmarkReadout()
    target, sign = resolve_oracle_attribute(attribute, kind, readout.names, oracle_attribute)

    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(faceset), size=min(n, len(faceset)), replace=False).tolist())
    faces = editor.faces_from_faceset(faceset, idx)
    codes = editor.encode_crops([f.crop for f in faces])
    for f, z in zip(faces, codes):
        f.z = z
    inputs = np.stack([f.crop for f in faces])

    decoded: dict[float, np.ndarray] = {}
    measured: dict[float, dict[str, np.ndarray]] = {}
    it: Any = alphas
    if progress:
        it = tqdm(alphas, desc=f"report {attribute}", unit="alpha", file=sys.stderr)
    for a in it:
        recipe = Recipe(edits={attribute: a}, hold=list(hold), region=region, identity=identity)
        decoded[a] = np.stack([face for face, _ in editor.render(faces, recipe)])
        measured[a] = readout.measure(decoded[a])
    base = measured[0.0]
    scales = readout.scales(base)
    notes: list[str] = []

    def delta(a: float, name: str) -> np.ndarray:
        return measured[a][name] - base[name]

    t_scale = scales[target]
    td = [delta(a, target) for a in alphas]
    success: list[float | None] = [None if a == 0 else float(np.mean(sign * np.sign(a) * d >= margin * t_scale))
                                   for a, d in zip(alphas, td)]
    others = [nm for nm in readout.names if nm != target]
    leakage = {nm: [float(np.mean(np.abs(delta(a, nm)))) / scales[nm] for a in alphas] for nm in others}

    drift: dict[str, list[float]] = {}
    ids = [nm for nm in readout.identity_names() if nm != target]
    if ids:
        drift["identity_attributes"] = [float(np.mean([leakage[nm][i] for nm in ids])) for i in range(len(alphas))]
    b0 = to_unit(decoded[0.0])
    drift["pixel_rmse_to_alpha0"] = [float(np.sqrt(((to_unit(decoded[a]) - b0) ** 2).mean(axis=(1, 2, 3))).mean())
                                     for a in alphas]
    if lpips_model is not None:
        t0 = to_model(decoded[0.0])
        drift["lpips_to_alpha0"] = [float(lpips_distance(to_model(decoded[a]), t0, lpips_model).mean())
                                    for a in alphas]
    if kind == "landmarks":
        d_in = readout.measure(inputs)["_descriptor"]
        drift["dlib_to_alpha0"] = [float(np.mean(identity_distance(measured[a]["_descriptor"],
                                                                   base["_descriptor"]))) for a in alphas]
        drift["dlib_to_input"] = [float(np.mean(identity_distance(measured[a]["_descriptor"], d_in)))
                                  for a in alphas]
        if readout.fallbacks:
            notes.append(f"dlib's detector missed {readout.fallbacks} of {readout.total} crops; their landmarks "
                         "were fitted in the aligned crop's fixed face box")
    b = editor.boundaries[attribute]
    return EditReport(
        attribute=attribute, oracle=kind, oracle_attribute=target, sign=sign, alphas=alphas, n_faces=len(faces),
        target_scale=t_scale, target_delta=[float(d.mean()) for d in td],
        target_delta_std=[float(d.std()) for d in td],
        target_delta_norm=[float(sign * d.mean() / t_scale) for d in td],
        target_abs_delta_norm=[float(np.abs(d).mean() / t_scale) for d in td], success_rate=success, margin=margin,
        leakage=leakage, identity_drift=drift, hold=list(hold), region=region, identity=identity,
        model_id=str(b.model_id), faceset=str(faceset.root), notes=notes)


def _as_editor(editor_or_model, boundaries):
    if isinstance(editor_or_model, Editor):
        if boundaries is None:
            return editor_or_model
        return Editor(editor_or_model.model, _load_b(boundaries, editor_or_model.model))
    if isinstance(editor_or_model, (str, os.PathLike)):
        if boundaries is None:
            return Editor.from_pretrained(editor_or_model)
        ed = Editor.from_pretrained(editor_or_model, boundaries={})
        return Editor(ed.model, _load_b(boundaries, ed.model))
    model = editor_or_model
    return Editor(model, _load_b(boundaries, model) if boundaries is not None else {})


def _load_b(boundaries, model) -> dict:
    if isinstance(boundaries, dict):
        return boundaries

    return load_boundaries(boundaries, model)
