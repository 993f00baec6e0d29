"""``build_app(editor) -> gr.Blocks``: the Gradio view over an :class:`~latentedit.edit.Editor`.

The layout and event wiring live here (the style in :mod:`latentedit.app.layout`); every computation
is a plain function in :mod:`latentedit.app.callbacks`, :mod:`~latentedit.app.labels`,
:mod:`~latentedit.app.presets` or :mod:`~latentedit.app.model_info`.

Errors: a bad recipe (the JSON box, a "Load recipe" file or a saved preset) is answered with one
message next to where it was entered, and no control changes; a bad upload is a ``gr.Error`` toast.
Anything unexpected is logged server-side and reported as a short "internal error" (no traceback
reaches the browser).

A slider move in the page is one request without the queue (``queue=False``, ``always_last``) that
carries only the moved control (the others are kept per session on the server) and answers with a
JPEG preview of the display-size photo; "Save result PNG" edits the full photo. The ``/apply`` API
endpoint takes every control and is queued.

Named API endpoints (for ``gradio_client``): ``/load_image``, ``/load_sample``, ``/apply``, ``/reset``,
``/recipe_from_json``, ``/load_recipe``, ``/preset``, ``/save_result``, ``/save_recipe``, ``/batch``,
``/report``.
"""
from __future__ import annotations

import inspect
import logging
import tempfile
import time
from pathlib import Path
from typing import Callable

import gradio as gr

from ..edit import Recipe
from ..errors import LatentEditError
from . import batch as bt
from . import callbacks as cb
from .handlers import guard, message_of, named, request_dir, slider_rows
from .labels import GROUPS, group_attributes, labels_for, split_validated
from .layout import CSS, VIEW_JS
from .model_info import header_markdown, identity_note, read_model_info
from .presets import SAVED_PREFIX, preset_choices, saved_recipes, shipped_presets
from .report_tab import UNAVAILABLE, ReportFn, edit_report_for_app
from .samples import list_samples

log = logging.getLogger("latentedit.app")

#: Default number of requests of one kind processed at once (2 CPU cores are the common case).
DEFAULT_CONCURRENCY = 2
#: The places a recipe can be entered, each with its own message line.
RECIPE_INPUTS = ("json", "file", "preset")
#: Edit-scope choices for a photo with several faces.
SCOPES = [("this face", "one"), ("all faces", "all")]
#: With at most this many validated sliders every group starts open; with more, only the first.
OPEN_GROUPS_UP_TO = 10


def build_app(editor, limits: cb.AppLimits | None = None, work_dir: str | None = None,
              concurrency: int = DEFAULT_CONCURRENCY, title: str = "latentedit",
              report: ReportFn | None = None, model_dir: str | Path | None = None,
              recipes_dir: str | Path | None = None, preview_max_side: int = cb.DISPLAY_MAX_SIDE) -> gr.Blocks:
    """Build the Gradio app: one slider (and one "hold" box) per loaded boundary, grouped by what it changes.

    Args:
        editor: a loaded :class:`~latentedit.edit.Editor` (``attributes``, ``identities``,
            ``boundaries``, ``find_faces``, ``apply``).
        limits: per-request limits (image pixels, batch size).
        work_dir: where downloads and batch outputs are written (default: a new temp folder).
        concurrency: queue concurrency limit for each queued event (also set it in ``queue()``).
        title: page title.
        report: the edit report engine for the Report tab, normally
            :func:`latentedit.eval.report.edit_report` (evaluation code, which the app never imports
            itself). None: the tab says reports are unavailable.
        model_dir: the model folder, for the model's name, training data, licence and card (None:
            "unknown").
        recipes_dir: where "Save recipe" writes and the preset list reads saved recipes (default:
            ``work_dir/recipes``).
        preview_max_side: longest side of the Before/After previews in pixels (slider moves edit a
            copy of the photo this size; "Save result PNG" edits the full photo).

    Returns:
        The ``gr.Blocks`` (not launched; call ``.queue(...).launch(max_file_size=..., css=CSS)`` or use
        :func:`latentedit.app.launch`).

    Raises:
        LatentEditError: the editor has no boundaries to make sliders from.
    """
    limits = limits or cb.AppLimits()
    attributes = list(editor.attributes)
    if not attributes:
        raise LatentEditError("the model has no boundaries; fit some with `latentedit fit` first")
    identities = list(editor.identities)
    default_identity = getattr(editor, "default_identity", identities[0] if identities else "")
    root = Path(work_dir or tempfile.mkdtemp(prefix="latentedit-app-"))
    root.mkdir(parents=True, exist_ok=True)
    recipes = Path(recipes_dir) if recipes_dir else root / "recipes"
    samples = {s.name: s for s in list_samples()}
    modes = cb.color_modes()
    default_color = "rct" if "rct" in modes else modes[0]
    report_cache: dict[str, tuple[str, str]] = {}
    live = cb.LiveImages(root / "live")
    labels = labels_for(attributes)
    validated, experimental = split_validated(getattr(editor, "boundaries", None) or dict.fromkeys(attributes))
    model_id = getattr(getattr(editor, "model", None), "model_id", None)
    info = read_model_info(model_dir, fallback_name=f"model {model_id}" if model_id else "model")
    presets = shipped_presets(attributes)

    # delete_cache: drop served images older than an hour, checked every 30 minutes.
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(1800, 3600)) as demo:
        # the current Photo (per session; holds the photo, so it expires after 30 min)
        photo_state = gr.State(None, time_to_live=1800)
        source_state = gr.State(None)       # ("upload", path) or ("sample", name): what to reload
        with gr.Row(elem_id="le-head"):
            with gr.Column(scale=3):
                gr.Markdown("### latentedit — face editing", elem_id="le-title")
                gr.Markdown(header_markdown(info, len(attributes), len(validated), identities, editor.resolution),
                            elem_id="le-model")
            with gr.Column(scale=2), gr.Accordion("Model card", open=False, elem_id="le-model-card"):
                gr.Markdown(info.card or "This model folder has no model card (README.md).")

        sliders: dict[str, gr.Slider] = {}
        holds: dict[str, gr.Checkbox] = {}
        with gr.Tab("Edit"):
            with gr.Row(elem_id="le-edit-row"):
                with gr.Column(scale=3, min_width=420, elem_id="le-image-col"):
                    with gr.Row(elem_id="le-view-row", equal_height=True):
                        view = gr.Radio([("After", "after"), ("Before", "before"), ("Side by side", "side")],
                                        value="after", show_label=False, elem_id="le-view", container=False, scale=3)
                        status = gr.Markdown("Upload a photo or pick a sample.", elem_id="le-status")
                    with gr.Row(elem_id="le-images"):
                        before = gr.Image(label="Before", type="filepath", interactive=False, elem_id="le-before",
                                          buttons=["fullscreen"])
                        after = gr.Image(label="After", type="filepath", interactive=False, elem_id="le-after",
                                         buttons=["download", "fullscreen"])
                with gr.Column(scale=2, min_width=360, elem_id="le-controls"):
                    with gr.Row(equal_height=True):
                        upload = gr.File(label="Photo (PNG / JPEG / WebP)", file_count="single", file_types=["image"],
                                         elem_id="le-upload", height=100, scale=3)
                        with gr.Column(scale=2, min_width=160):
                            sample = gr.Dropdown(list(samples), value=None, label="…or a built-in sample",
                                                 elem_id="le-sample")
                            aligned = gr.Checkbox(False, label="input is an already aligned face",
                                                  elem_id="le-aligned")
                    with gr.Row(visible=False, elem_id="le-faces") as faces_row:
                        thumb = gr.Image(label="Faces in the photo", type="filepath", interactive=False,
                                         elem_id="le-face-thumb", height=170, buttons=[], scale=1)
                        with gr.Column(scale=1):
                            face_pick = gr.Radio([], type="index", label="Face", elem_id="le-face")
                            scope = gr.Radio(SCOPES, value="one", label="Edit", elem_id="le-scope")
                    with gr.Row():
                        preset = gr.Dropdown(preset_choices(attributes, recipes), value=None, label="Preset",
                                             elem_id="le-preset", scale=2, min_width=150)
                        mode = gr.Radio([(cb.MODE_LABELS[m], m) for m in cb.MERGE_MODES], value=cb.DEFAULT_MODE,
                                        label="Edit mode", elem_id="le-mode", scale=3)
                    preset_msg = gr.Markdown(visible=False, elem_id="le-preset-msg", elem_classes=["le-msg", "le-error"])
                    groups = group_attributes(validated)
                    open_all = len(validated) <= OPEN_GROUPS_UP_TO
                    for k, group in enumerate(g for g in GROUPS if g in groups):
                        with gr.Accordion(f"{group} ({len(groups[group])})", open=open_all or k == 0,
                                          elem_id=f"le-group-{group.lower()}"):
                            slider_rows(groups[group], labels, False, sliders, holds)
                    if experimental:
                        with gr.Accordion(f"More (experimental): {len(experimental)} sliders", open=not groups,
                                          elem_id="le-experimental"):
                            gr.Markdown("These boundaries did not pass the model's slider validation: they may move "
                                        "little, or move other things too.", elem_classes="le-msg")
                            for names in group_attributes(experimental).values():
                                slider_rows(names, labels, True, sliders, holds)
                    with gr.Accordion("Region, face swap, colour", open=False, elem_id="le-options"):
                        region = gr.Radio(list(cb.REGION_CHOICES), value="none", label="Confine the edit to a region",
                                          elem_id="le-region")
                        identity = gr.Dropdown([cb.DEFAULT_IDENTITY] + identities, value=cb.DEFAULT_IDENTITY,
                                               label="Decode as identity (swap, then edit)", elem_id="le-identity")
                        identity_md = gr.Markdown(identity_note(None, default_identity), elem_id="le-identity-note",
                                                  elem_classes="le-msg")
                        color = gr.Dropdown(list(modes), value=default_color, label="Colour transfer",
                                            info="used when the face is re-rendered (replace mode)", elem_id="le-color")
                    with gr.Row():
                        reset = gr.Button("Reset", elem_id="le-reset", min_width=80, size="sm")
                        save_png = gr.Button("Save result PNG", elem_id="le-save-png", min_width=120, size="sm")
                        save_json = gr.Button("Save recipe", elem_id="le-save-recipe", min_width=100, size="sm")
                        load_json = gr.UploadButton("Load recipe (.json)", file_types=[".json"],
                                                    elem_id="le-load-recipe", min_width=120, size="sm")
                    load_msg = gr.Markdown(visible=False, elem_id="le-load-msg", elem_classes=["le-msg", "le-error"])
                    download = gr.File(label="Download", interactive=False, elem_id="le-download", visible=False)
                    with gr.Accordion("Recipe JSON", open=False, elem_id="le-recipe-acc"):
                        recipe_box = gr.Textbox(label="Recipe", lines=8, max_lines=24, elem_id="le-recipe")
                        apply_json = gr.Button("Use this recipe", elem_id="le-use-recipe")
                        json_msg = gr.Markdown(visible=False, elem_id="le-json-msg", elem_classes=["le-msg", "le-error"])

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
            report_attr = gr.Dropdown([(labels[a].label + f" ({a})", a) for a in attributes], value=attributes[0],
                                      label="Attribute")
            report_go = gr.Button("Show report", elem_id="le-report-run", interactive=report is not None)
            report_img = gr.Image(label="Edit report", type="filepath", interactive=False)
            report_md = gr.Markdown()

        # The API order of the controls: attributes sorted as the editor lists them, whatever the layout.
        slider_list = [sliders[a] for a in attributes]
        hold_list = [holds[a] for a in attributes]
        controls = [*slider_list, *hold_list, region, identity, color, mode]
        control_names = [*attributes, *(f"hold_{a}" for a in attributes), "region", "identity", "color", "mode"]
        messages = [json_msg, load_msg, preset_msg]
        n = len(attributes)
        defaults = [*([0.0] * n), *([False] * n), "none", cb.DEFAULT_IDENTITY, default_color, cb.DEFAULT_MODE]
        # The controls' values, kept per session on the server: a slider move sends only its own value
        # (Gradio marks every input and output of a request "pending" in the page, and 50 inputs cost
        # ~50 ms of page work per move); the handler sets it here and renders the whole recipe.
        controls_state = gr.State(list(defaults))
        api_apply = gr.Button("apply", visible=False)      # the /apply endpoint: every control as a parameter

        # ----------------------------------------------------------------- callbacks
        def _recipe(args):
            values, flags = args[:n], args[n:2 * n]
            reg, ident, col, mod = args[2 * n:2 * n + 4]
            return cb.build_recipe(attributes, values, flags, reg, ident, col, mod, default_identity)

        def _loaded(image, is_aligned, source, origin):
            photo = cb.prepare_photo(editor, image, bool(is_aligned), source, preview_max_side)
            labels_ = cb.face_labels(photo.faces)
            many = len(photo.faces) > 1
            msg = f"{source}: {len(photo.faces)} face(s) found" + (" — pick one below." if many else ".")
            return (photo, live.write(photo.display), gr.update(choices=labels_, value=labels_[0]), msg, origin,
                    live.write(cb.face_thumbnail(photo)) if many else None, "one", gr.update(visible=many))

        @guard
        def load_image(path, is_aligned):
            image = cb.read_upload(path, limits)
            return _loaded(image, is_aligned, Path(path).name, ("upload", path))

        @guard
        def load_sample(name, is_aligned):
            if not name:
                raise LatentEditError("pick a sample")
            if name not in samples:
                raise LatentEditError(f"unknown sample {name!r}; choose one of {', '.join(samples)}")
            s = samples[name]
            image = cb.read_upload(s.path, limits)
            return _loaded(image, bool(is_aligned) or s.aligned, s.name, ("sample", name))

        def reload(origin, is_aligned):
            """The "already aligned" box changed: prepare the current photo again."""
            if not origin:
                return (gr.skip(),) * 8
            kind, value = origin
            return load_image(value, is_aligned) if kind == "upload" else load_sample(value, is_aligned)

        @guard
        def apply(photo, index, scope_value, *args):
            t0 = time.perf_counter()
            recipe, notes = _recipe(args)
            if photo is None:
                # Controls set before any photo: keep the recipe, nothing to render yet (no error toast).
                return None, recipe.to_json(), "Upload a photo or pick a sample first."
            result = cb.apply_edit(editor, photo.preview, index, recipe, all_faces=scope_value == "all")
            path = live.write(cb.fit_display(result.image, preview_max_side))
            ms = (time.perf_counter() - t0) * 1000   # the server's whole share: edit + preview encoding
            msg = f"edited in {ms:.0f} ms" + "".join(f"; {s}" for s in notes)
            return path, recipe.to_json(), msg

        def _answer(where: str, get_recipe: Callable[[], Recipe]):
            """Controls set from a recipe, or — when it is bad — no control touched and one message at ``where``."""
            box: list = []

            def run():
                values, flags, reg, ident, col, mod = cb.recipe_to_controls(get_recipe(), attributes)
                box.extend([*values, *flags, reg, ident, col, mod])

            error = message_of(run)
            outs = [*box, list(box)] if error is None else [gr.skip()] * (len(controls) + 1)
            msgs = [gr.update(value=f"⚠ {error}" if error and w == where else "", visible=bool(error) and w == where)
                    for w in RECIPE_INPUTS]
            return [*outs, *msgs]

        def recipe_from_json(text):
            return _answer("json", lambda: cb.parse_recipe(text, attributes, identities, "recipe JSON"))

        def load_recipe(path):
            def get():
                return cb.parse_recipe(cb.read_text_upload(path), attributes, identities, Path(path or "recipe").name)
            return _answer("file", get)

        def use_preset(name):
            def get():
                if name in presets:
                    return presets[name]
                saved = saved_recipes(recipes)
                if name not in saved:
                    raise LatentEditError(f"no preset or saved recipe named {name!r}")
                return cb.parse_recipe(cb.read_text_upload(saved[name]), attributes, identities,
                                       name[len(SAVED_PREFIX):] + ".json")
            return _answer("preset", get)

        def do_reset():
            return [*defaults, list(defaults)]

        @guard
        def save_result(photo, index, scope_value, *args):
            recipe, _ = _recipe(args)
            if photo is None:
                raise LatentEditError("upload a photo or pick a sample first")
            result = cb.apply_edit(editor, photo.faces, index, recipe, all_faces=scope_value == "all")
            stem = Path(str(getattr(result, "source", "") or "edited")).stem + "_edited"
            return str(cb.save_result(result.image, request_dir(root), stem))

        @guard
        def save_recipe(*args):
            recipe, _ = _recipe(args)
            path = cb.save_recipe(recipe, recipes)
            return str(path), gr.update(choices=preset_choices(attributes, recipes))

        def refresh_presets():
            return gr.update(choices=preset_choices(attributes, recipes))

        def show_identity(ident):
            return identity_note(None if ident in (None, "", cb.DEFAULT_IDENTITY) else ident, default_identity)

        def batch(files, is_aligned, *args, progress=gr.Progress()):
            try:
                recipe, _ = _recipe(args)
                if not files:
                    raise LatentEditError("upload images or a zip first")
                paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in files]
                work = request_dir(root)
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

        @guard
        def show_report(attribute):
            if report is None:
                raise LatentEditError(UNAVAILABLE)
            if attribute not in attributes:
                raise LatentEditError(f"unknown attribute {attribute!r}")
            if attribute not in report_cache:
                report_cache[attribute] = edit_report_for_app(editor, attribute, root, report)
            return report_cache[attribute]

        # Name the API parameters after the controls (gradio_client: predict(smile=1.0, ...)).
        apply = named(apply, ["photo", "face", "scope", *control_names])
        save_result = named(save_result, ["photo", "face", "scope", *control_names])
        save_recipe = named(save_recipe, control_names)
        named(batch, ["files", "aligned", *control_names])
        batch.__signature__ = batch.__signature__.replace(parameters=[
            *batch.__signature__.parameters.values(),
            inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=gr.Progress())])
        named(recipe_from_json, ["recipe_json"])

        def render(photo, index, scope_value, state):
            return apply(photo, index, scope_value, *state)

        def _move(i: int) -> Callable:
            def move(photo, index, scope_value, state, value):
                # In place: the State is this session's list on the server, and moves of two controls
                # at once each set their own entry (returning a copy would let one undo the other).
                state[i] = value
                return apply(photo, index, scope_value, *state)
            return move

        # ------------------------------------------------------------------- wiring
        render_io = dict(inputs=[photo_state, face_pick, scope, controls_state], outputs=[after, recipe_box, status],
                         show_progress="hidden", queue=False, api_visibility="private")
        loaded_out = [photo_state, before, face_pick, status, source_state, thumb, scope, faces_row]
        upload.upload(load_image, [upload, aligned], loaded_out, api_name="load_image",
                      concurrency_limit=concurrency).then(render, **render_io)
        sample.input(load_sample, [sample, aligned], loaded_out, api_name="load_sample",
                     concurrency_limit=concurrency).then(render, **render_io)
        aligned.input(reload, [source_state, aligned], loaded_out, api_name="reload",
                      api_visibility="private").then(render, **render_io)
        # A slider move: one request without the queue round trip, carrying only the moved control;
        # the newest value wins (always_last). User input only: a recipe that sets 50 sliders renders once.
        for i, control in enumerate(controls):
            control.input(_move(i), [photo_state, face_pick, scope, controls_state, control],
                          [after, recipe_box, status], trigger_mode="always_last",
                          show_progress="hidden", queue=False, api_visibility="private")
        gr.on([face_pick.input, scope.input], render, trigger_mode="always_last", **render_io)
        # API clients (gradio_client) are queued: their round trip was measured faster queued, and the
        # queue's concurrency limit keeps many clients from oversubscribing the cores.
        api_apply.click(apply, [photo_state, face_pick, scope, *controls], [after, recipe_box, status],
                        api_name="apply", concurrency_limit=concurrency, concurrency_id="apply")
        view.change(None, [view], None, js=VIEW_JS, queue=False, api_visibility="private")
        identity.change(show_identity, [identity], [identity_md], queue=False, show_progress="hidden",
                        api_visibility="private")
        set_controls = [*controls, controls_state]
        reset.click(do_reset, None, set_controls, api_name="reset").then(render, **render_io)
        recipe_io = [*set_controls, *messages]
        apply_json.click(recipe_from_json, [recipe_box], recipe_io, api_name="recipe_from_json").then(
            render, **render_io)
        load_json.upload(load_recipe, [load_json], recipe_io, api_name="load_recipe").then(render, **render_io)
        preset.input(use_preset, [preset], recipe_io, api_name="preset").then(render, **render_io)
        demo.load(refresh_presets, None, [preset], api_visibility="private", queue=False)

        def show():
            return gr.update(visible=True)

        save_png.click(save_result, [photo_state, face_pick, scope, *controls], [download], api_name="save_result",
                       concurrency_limit=concurrency, concurrency_id="save").success(
            show, None, download, api_name="show_download_png", api_visibility="private")
        save_json.click(save_recipe, controls, [download, preset], api_name="save_recipe").success(
            show, None, download, api_name="show_download_recipe", api_visibility="private")
        batch_go.click(batch, [batch_files, batch_aligned, *controls], [batch_zip, batch_md, batch_json],
                       api_name="batch", concurrency_limit=1)
        report_go.click(show_report, [report_attr], [report_img, report_md], api_name="report", concurrency_limit=1)
    return demo


def launch(editor, host: str = "127.0.0.1", port: int | None = 7860, concurrency: int = DEFAULT_CONCURRENCY,
           max_file_size: str | int = "20mb", queue_size: int = 64, limits: cb.AppLimits | None = None,
           prevent_thread_lock: bool = False, quiet: bool = False, work_dir: str | None = None,
           report: ReportFn | None = None, model_dir: str | Path | None = None,
           recipes_dir: str | Path | None = None, preview_max_side: int = cb.DISPLAY_MAX_SIDE) -> gr.Blocks:
    """Build and serve the app (never with a public share link).

    Args:
        editor: the loaded :class:`~latentedit.edit.Editor`.
        host: interface to bind (``127.0.0.1`` keeps it local).
        port: TCP port (``None``: the first free one from 7860).
        concurrency: requests of one kind processed at once (slider moves bypass the queue).
        max_file_size: upload size limit (e.g. ``"20mb"``); larger uploads are refused by the server.
        queue_size: requests waiting in the queue before new ones are turned away.
        limits: per-request limits.
        prevent_thread_lock: return instead of blocking (tests, benchmarks).
        quiet: do not print the URL banner.
        work_dir: where downloads and batch outputs go (default: a new temp folder).
        report: the Report tab's engine (see :func:`build_app`); ``latentedit app`` passes
            :func:`latentedit.eval.report.edit_report`.
        model_dir: the model folder (name, training data, licence, model card in the header).
        recipes_dir: the folder of saved recipes listed as presets (default: ``work_dir/recipes``).
        preview_max_side: longest side of the previews a slider move sends (see :func:`build_app`).

    Returns:
        The running ``gr.Blocks`` (``.local_url`` is its address; ``.close()`` stops it). With
        ``prevent_thread_lock=False`` this returns only after the server stops.
    """
    demo = build_app(editor, limits=limits, concurrency=concurrency, work_dir=work_dir, report=report,
                     model_dir=model_dir, recipes_dir=recipes_dir, preview_max_side=preview_max_side)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=max_file_size,
                prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=False,
                state_session_capacity=64, css=CSS, footer_links=["api"])
    return demo
