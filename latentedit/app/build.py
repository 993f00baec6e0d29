"""``build_app(editor) -> gr.Blocks``: the Gradio view over an :class:`~latentedit.edit.Editor`.

The layout and event wiring live here; every computation is a plain function in
:mod:`latentedit.app.callbacks`. Errors the user can fix become ``gr.Error`` toasts with the
message; anything else is logged server-side and reported as a short "internal error" (no traceback
reaches the browser). Named API endpoints (for ``gradio_client``): ``/load_image``, ``/load_sample``,
``/apply``, ``/reset``, ``/recipe_from_json``, ``/load_recipe``, ``/save_result``, ``/save_recipe``,
``/batch``, ``/report``.
"""
from __future__ import annotations

import functools
import inspect
import keyword
import logging
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

import gradio as gr

from ..errors import LatentEditError
from . import batch as bt
from . import callbacks as cb
from .report_tab import UNAVAILABLE, ReportFn, edit_report_for_app
from .samples import list_samples

log = logging.getLogger("latentedit.app")

#: Attribute sliders per row.
SLIDER_COLUMNS = 2
#: Default number of requests of one kind processed at once (2 CPU cores are the common case).
DEFAULT_CONCURRENCY = 2

CSS = """
.le-hold {min-width: 70px !important; max-width: 90px;}
#le-status {font-size: 0.9em;}
#le-before img, #le-after img {width: 100%; height: 100%; object-fit: contain;}
"""


def _guard(fn: Callable) -> Callable:
    """Turn user errors into gr.Error messages and hide internal tracebacks from the browser."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except LatentEditError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - the app must keep serving other users
            log.exception("internal error in %s", fn.__name__)
            raise gr.Error(f"internal error ({type(exc).__name__}); the details are in the server log",
                           print_exception=False) from None

    return wrapper


def _param_name(name: str, taken: set[str]) -> str:
    """A Python identifier for an API parameter named after a control (``gradio_client`` kwargs)."""
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "param"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "a_" + ident
    base, k = ident, 2
    while ident in taken:
        ident, k = f"{base}_{k}", k + 1
    taken.add(ident)
    return ident


def _named(fn: Callable, names: list[str]) -> Callable:
    """Give ``fn(*args)`` a signature with these parameter names, so the API documents them."""
    taken: set[str] = set()
    params = [inspect.Parameter(_param_name(n, taken), inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    fn.__signature__ = inspect.Signature(params)
    return fn


def _request_dir(root: Path) -> Path:
    d = root / uuid.uuid4().hex[:12]
    d.mkdir(parents=True)
    return d


def build_app(editor, limits: cb.AppLimits | None = None, work_dir: str | None = None,
              concurrency: int = DEFAULT_CONCURRENCY, title: str = "latentedit",
              report: ReportFn | None = None) -> gr.Blocks:
    """Build the Gradio app: one slider (and one "hold" box) per loaded boundary.

    Args:
        editor: a loaded :class:`~latentedit.edit.Editor` (``attributes``, ``identities``,
            ``find_faces``, ``apply``).
        limits: per-request limits (image pixels, batch size).
        work_dir: where downloads and batch outputs are written (default: a new temp folder).
        concurrency: queue concurrency limit for each event (also set it in ``queue()``).
        title: page title.
        report: the edit report engine for the Report tab, normally
            :func:`latentedit.eval.report.edit_report` (evaluation code, which the app never imports
            itself). None: the tab says reports are unavailable.

    Returns:
        The ``gr.Blocks`` (not launched; call ``.queue(...).launch(max_file_size=...)`` or use
        :func:`latentedit.app.launch`).

    Raises:
        LatentEditError: the editor has no boundaries to make sliders from.
    """
    limits = limits or cb.AppLimits()
    attributes = list(editor.attributes)
    if not attributes:
        raise LatentEditError("the model has no boundaries; fit some with `latentedit fit` first")
    identities = list(editor.identities)
    root = Path(work_dir or tempfile.mkdtemp(prefix="latentedit-app-"))
    root.mkdir(parents=True, exist_ok=True)
    samples = {s.name: s for s in list_samples()}
    modes = cb.color_modes()
    report_cache: dict[str, tuple[str, str]] = {}
    live = cb.LiveImages(root / "live")

    # delete_cache: drop served images older than an hour, checked every 30 minutes.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        # list[Face] of the current photo (per session; holds the photo, so it expires after 30 min)
        faces_state = gr.State(None, time_to_live=1800)
        source_state = gr.State(None)       # ("upload", path) or ("sample", name): what to reload
        gr.Markdown(f"## latentedit — latent-space face editing\nModel: {len(attributes)} attributes, "
                    f"decoders: {', '.join(identities)}, {editor.resolution} px.")
        with gr.Tab("Edit"):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    upload = gr.File(label="Photo (PNG / JPEG / WebP)", file_count="single",
                                     file_types=["image"], elem_id="le-upload", height=120)
                    sample = gr.Dropdown(list(samples), value=None, label="…or a built-in sample",
                                         elem_id="le-sample")
                    aligned = gr.Checkbox(False, label="input is an already aligned face", elem_id="le-aligned")
                    face_pick = gr.Radio([], type="index", label="Face", elem_id="le-face")
                    status = gr.Markdown("Upload a photo or pick a sample.", elem_id="le-status")
                with gr.Column(scale=2):
                    with gr.Row():
                        before = gr.Image(label="Before", type="filepath", format="png", interactive=False,
                                          elem_id="le-before", height=320)
                        after = gr.Image(label="After", type="filepath", format="png", interactive=False,
                                         elem_id="le-after", height=320, buttons=["download", "fullscreen"])
            with gr.Row():
                with gr.Column(scale=2):
                    sliders, holds = [], []
                    for i in range(0, len(attributes), SLIDER_COLUMNS):   # a grid keeps 25 sliders on screen
                        with gr.Row():
                            for a in attributes[i:i + SLIDER_COLUMNS]:
                                acc = getattr(editor.boundaries.get(a), "val_accuracy", None) \
                                    if hasattr(editor, "boundaries") else None
                                info = f"boundary val. accuracy {acc:.2f}" if isinstance(acc, float) else None
                                with gr.Column(min_width=260), gr.Row(equal_height=True):
                                    sliders.append(gr.Slider(cb.SLIDER_MIN, cb.SLIDER_MAX, value=0.0,
                                                             step=cb.SLIDER_STEP, label=a, info=info, scale=5,
                                                             elem_id=f"le-slider-{a}"))
                                    holds.append(gr.Checkbox(False, label="hold", scale=1, min_width=70,
                                                             elem_classes="le-hold", elem_id=f"le-hold-{a}"))
                with gr.Column(scale=1):
                    region = gr.Radio(list(cb.REGION_CHOICES), value="none", label="Region",
                                      elem_id="le-region")
                    identity = gr.Dropdown([cb.DEFAULT_IDENTITY] + identities, value=cb.DEFAULT_IDENTITY,
                                           label="Decode as identity (swap, then edit)", elem_id="le-identity")
                    color = gr.Dropdown(list(modes), value="rct" if "rct" in modes else modes[0],
                                        label="Colour transfer", elem_id="le-color")
                    reset = gr.Button("Reset", elem_id="le-reset")
                    with gr.Row():
                        save_png = gr.Button("Save result PNG", elem_id="le-save-png")
                        save_json = gr.Button("Save recipe", elem_id="le-save-recipe")
                    load_json = gr.UploadButton("Load recipe (.json)", file_types=[".json"], elem_id="le-load-recipe")
                    download = gr.File(label="Download", interactive=False, elem_id="le-download", visible=False)
            with gr.Accordion("Recipe JSON", open=False):
                recipe_box = gr.Textbox(label="Recipe", lines=8, max_lines=24, elem_id="le-recipe")
                apply_json = gr.Button("Use this recipe")

        with gr.Tab("Batch"):
            gr.Markdown("Edit many photos with the recipe set on the **Edit** tab. Upload images or a zip; "
                        f"at most {limits.max_batch_files} images.")
            batch_files = gr.File(label="Images or a .zip", file_count="multiple",
                                  file_types=["image", ".zip"], elem_id="le-batch-files")
            batch_aligned = gr.Checkbox(False, label="inputs are already aligned faces")
            batch_go = gr.Button("Run batch", variant="primary", elem_id="le-batch-run")
            batch_zip = gr.File(label="Results (.zip)", interactive=False)
            batch_md = gr.Markdown()
            batch_json = gr.JSON(label="Summary")

        with gr.Tab("Report"):
            gr.Markdown("How the edit of one attribute moves every measured attribute, on a small built-in "
                        "SynthFaces set (computed once per attribute, then cached)." if report is not None
                        else UNAVAILABLE)
            report_attr = gr.Dropdown(attributes, value=attributes[0], label="Attribute")
            report_go = gr.Button("Show report", elem_id="le-report-run", interactive=report is not None)
            report_img = gr.Image(label="Edit report", type="filepath", interactive=False)
            report_md = gr.Markdown()

        controls = [*sliders, *holds, region, identity, color]
        control_names = [*attributes, *(f"hold_{a}" for a in attributes), "region", "identity", "color"]
        n = len(attributes)

        # ----------------------------------------------------------------- callbacks
        def _recipe(args):
            values, flags = args[:n], args[n:2 * n]
            reg, ident, col = args[2 * n:2 * n + 3]
            return cb.build_recipe(attributes, values, flags, reg, ident, col)

        def _loaded(image, faces, source, origin):
            labels = cb.face_labels(faces)
            msg = f"{source}: {len(faces)} face(s) found" + (" — pick one below." if len(faces) > 1 else ".")
            return (faces, live.write(cb.fit_display(image)), gr.update(choices=labels, value=labels[0]), msg, origin)

        @_guard
        def load_image(path, is_aligned):
            image = cb.read_upload(path, limits)
            name = Path(path).name
            return _loaded(image, cb.find_faces(editor, image, bool(is_aligned), name), name, ("upload", path))

        @_guard
        def load_sample(name, is_aligned):
            if not name:
                raise LatentEditError("pick a sample")
            if name not in samples:
                raise LatentEditError(f"unknown sample {name!r}; choose one of {', '.join(samples)}")
            s = samples[name]
            image = cb.read_upload(s.path, limits)
            faces = cb.find_faces(editor, image, bool(is_aligned) or s.aligned, s.name)
            return _loaded(image, faces, s.name, ("sample", name))

        def reload(origin, is_aligned):
            """The "already aligned" box changed: prepare the current photo again."""
            if not origin:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            kind, value = origin
            return load_image(value, is_aligned) if kind == "upload" else load_sample(value, is_aligned)

        @_guard
        def apply(faces, index, *args):
            recipe, notes = _recipe(args)
            if not faces:
                # Controls set before any photo: keep the recipe, nothing to render yet (no error toast).
                return None, recipe.to_json(), "Upload a photo or pick a sample first."
            t0 = time.perf_counter()
            result = cb.apply_edit(editor, faces, index, recipe)
            ms = (time.perf_counter() - t0) * 1000
            msg = f"edited in {ms:.0f} ms" + "".join(f"; {s}" for s in notes)
            return live.write(cb.fit_display(result.image)), recipe.to_json(), msg

        def _controls_from(recipe):
            values, flags, reg, ident, col = cb.recipe_to_controls(recipe, attributes)
            return [*values, *flags, reg, ident, col]

        @_guard
        def recipe_from_json(text):
            return _controls_from(cb.parse_recipe(text, attributes, identities, "recipe JSON"))

        @_guard
        def load_recipe(path):
            text = cb.read_text_upload(path)
            return _controls_from(cb.parse_recipe(text, attributes, identities, Path(path).name))

        def do_reset():
            return [*([0.0] * n), *([False] * n), "none", cb.DEFAULT_IDENTITY,
                    "rct" if "rct" in modes else modes[0]]

        @_guard
        def save_result(faces, index, *args):
            recipe, _ = _recipe(args)
            result = cb.apply_edit(editor, faces, index, recipe)
            stem = Path(str(getattr(result, "source", "") or "edited")).stem + "_edited"
            return str(cb.save_result(result.image, _request_dir(root), stem))

        @_guard
        def save_recipe(*args):
            recipe, _ = _recipe(args)
            return str(cb.save_recipe(recipe, _request_dir(root)))

        def batch(files, is_aligned, *args, progress=gr.Progress()):
            try:
                recipe, _ = _recipe(args)
                if not files:
                    raise LatentEditError("upload images or a zip first")
                paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in files]
                work = _request_dir(root)
                items = bt.collect_batch_inputs(paths, work / "inputs", limits)
                progress(0, desc=f"editing {len(items)} images")
                res = bt.run_batch(editor, items, recipe, bool(is_aligned), work / "batch",
                                   progress=lambda k, total, name: progress((k, total), desc=name, unit="images"))
                return str(res.zip_path), res.markdown, res.summary
            except LatentEditError as exc:
                raise gr.Error(str(exc), print_exception=False) from None
            except Exception as exc:  # noqa: BLE001
                log.exception("internal error in batch")
                raise gr.Error(f"internal error ({type(exc).__name__}); the details are in the server log",
                               print_exception=False) from None

        @_guard
        def show_report(attribute):
            if report is None:
                raise LatentEditError(UNAVAILABLE)
            if attribute not in attributes:
                raise LatentEditError(f"unknown attribute {attribute!r}")
            if attribute not in report_cache:
                report_cache[attribute] = edit_report_for_app(editor, attribute, root, report)
            return report_cache[attribute]

        # Name the API parameters after the controls (gradio_client: predict(smile=1.0, ...)).
        apply = _named(apply, ["faces", "face", *control_names])
        save_result = _named(save_result, ["faces", "face", *control_names])
        save_recipe = _named(save_recipe, control_names)
        _named(batch, ["files", "aligned", *control_names])
        batch.__signature__ = batch.__signature__.replace(parameters=[
            *batch.__signature__.parameters.values(),
            inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=gr.Progress())])
        _named(recipe_from_json, ["recipe_json"])

        # ------------------------------------------------------------------- wiring
        apply_io = dict(inputs=[faces_state, face_pick, *controls], outputs=[after, recipe_box, status])
        loaded_out = [faces_state, before, face_pick, status, source_state]
        upload.upload(load_image, [upload, aligned], loaded_out, api_name="load_image",
                      concurrency_limit=concurrency).then(apply, **apply_io, api_name="apply_after_upload",
                                                          api_visibility="private")
        sample.input(load_sample, [sample, aligned], loaded_out, api_name="load_sample",
                     concurrency_limit=concurrency).then(apply, **apply_io, api_name="apply_after_sample",
                                                         api_visibility="private")
        aligned.input(reload, [source_state, aligned], loaded_out, api_name="reload",
                      api_visibility="private").then(apply, **apply_io, api_name="apply_after_reload",
                                                     api_visibility="private")
        gr.on([*(s.change for s in sliders), *(h.change for h in holds), region.change, identity.change,
               color.change, face_pick.input], apply, **apply_io, api_name="apply", trigger_mode="always_last",
              show_progress="hidden", concurrency_limit=concurrency, concurrency_id="apply")
        reset.click(do_reset, None, controls, api_name="reset")
        apply_json.click(recipe_from_json, [recipe_box], controls, api_name="recipe_from_json")
        load_json.upload(load_recipe, [load_json], controls, api_name="load_recipe")
        def show():
            return gr.update(visible=True)

        save_png.click(save_result, [faces_state, face_pick, *controls], [download], api_name="save_result",
                       concurrency_limit=concurrency, concurrency_id="apply").success(
            show, None, download, api_name="show_download_png", api_visibility="private")
        save_json.click(save_recipe, controls, [download], api_name="save_recipe").success(
            show, None, download, api_name="show_download_recipe", api_visibility="private")
        batch_go.click(batch, [batch_files, batch_aligned, *controls], [batch_zip, batch_md, batch_json],
                       api_name="batch", concurrency_limit=1)
        report_go.click(show_report, [report_attr], [report_img, report_md], api_name="report", concurrency_limit=1)
    return demo


def launch(editor, host: str = "127.0.0.1", port: int | None = 7860, concurrency: int = DEFAULT_CONCURRENCY,
           max_file_size: str | int = "20mb", queue_size: int = 64, limits: cb.AppLimits | None = None,
           prevent_thread_lock: bool = False, quiet: bool = False, work_dir: str | None = None,
           report: ReportFn | None = None) -> gr.Blocks:
    """Build and serve the app (never with a public share link).

    Args:
        editor: the loaded :class:`~latentedit.edit.Editor`.
        host: interface to bind (``127.0.0.1`` keeps it local).
        port: TCP port (``None``: the first free one from 7860).
        concurrency: requests of one kind processed at once.
        max_file_size: upload size limit (e.g. ``"20mb"``); larger uploads are refused by the server.
        queue_size: requests waiting in the queue before new ones are turned away.
        limits: per-request limits.
        prevent_thread_lock: return instead of blocking (tests, benchmarks).
        quiet: do not print the URL banner.
        work_dir: where downloads and batch outputs go (default: a new temp folder).
        report: the Report tab's engine (see :func:`build_app`); ``latentedit app`` passes
            :func:`latentedit.eval.report.edit_report`.

    Returns:
        The running ``gr.Blocks`` (``.local_url`` is its address; ``.close()`` stops it). With
        ``prevent_thread_lock=False`` this returns only after the server stops.
    """
    demo = build_app(editor, limits=limits, concurrency=concurrency, work_dir=work_dir, report=report)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=max_file_size,
                       prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False,
                       state_session_capacity=64, css=CSS, footer_links=["api"])
    return demo
