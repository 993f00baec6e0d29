"""``latentedit bench app``: slider-move → new image latency through a real client.

The app (``latentedit app MODEL``, in its own process) is served on 127.0.0.1 and driven with
``gradio_client``:
each client opens its own session, uploads one face, then sends slider moves to the ``/apply``
endpoint (a different smile value each time) and downloads every returned image. Latency is the
wall time of one ``predict`` call, so it includes the queue, the edit, PNG encoding and the
download. Measured with 1 client and with N concurrent clients (default 8).

Baseline, measured in the same run and interleaved with the 1-client requests (so both see the same
load on a shared machine): the same edit as a direct in-process ``Editor.apply`` call on the same
face (no server). ``p50_vs_direct`` = app p50 ÷ direct p50 is the cost of serving it. A row for
``/reset`` (an endpoint that does no edit) shows the serving floor of one request on its own.

Without MODEL, an untrained model with the default architecture at ``--resolution`` (default 128)
and three boundaries fitted on its codes of SynthFaces renders is built in a temp folder: latency
does not depend on the weights' values.

``--browser`` measures instead what a person feels: key press on the smile slider → the new result
image drawn, in Chromium, at each ``--sizes`` photo size, next to the server's own time for the same
moves (:mod:`latentedit.eval.bench.app_browser`); ``--out`` names its JSON file.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..._io import atomic_write_json, read_image, write_image
from ...app.callbacks import DISPLAY_MAX_SIDE, PREVIEW_QUALITY
from ...edit import Editor, Recipe
from ...errors import LatentEditError
from ...latent import BoundaryFitter
from ...models import ModelConfig, SwapAutoencoder, save_pretrained
from ...preprocess import to_model
from ...synth.params import ExpressionParams, IdentityParams
from ...synth.render import render
from .app_browser import chromium_path, measure, timed_attribute
from .markdown import machine_info

TARGET_P50_MS = 100.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark's options."""
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL",
                        help="model folder with boundaries/ (default: an untrained default-architecture "
                             "model at --resolution, built for timing)")
    parser.add_argument("--resolution", type=int, default=128, help="resolution of the built model (default 128)")
    parser.add_argument("--requests", type=int, default=40, help="timed slider moves per client (default 40)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed slider moves per client first (default 5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the second run (default 8)")
    parser.add_argument("--concurrency", type=int, default=2, help="app concurrency limit (default 2)")
    parser.add_argument("--photo", action="store_true",
                        help="also time a photo (detect once, then edit + merge back per move)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", "--out", dest="json", default=None, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--browser", action="store_true",
                        help="measure felt latency in Chromium (Playwright): key press on the smile slider → "
                             "the result image's load event, next to the server's own time")
    parser.add_argument("--sizes", default="512,1024", help="--browser: photo sizes in px (default 512,1024)")
    parser.add_argument("--image", default=None, metavar="PATH",
                        help="--browser: a photo to resize to each size (default: a SynthFaces face on a canvas)")


def _loopback_status(port: int) -> int:
    """HTTP status of ``GET /`` on 127.0.0.1:``port`` (raises OSError while nothing listens)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``latentedit app MODEL`` in its own process (as deployed), on a free port of 127.0.0.1."""

    def __init__(self, model_dir: Path, concurrency: int, cwd: Path, timeout_s: float = 180.0) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self.log = open(cwd / "app_server.log", "w+")
        # The package's own parent on the path: works from a source checkout without installing it.
        root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "latentedit.cli.main", "app", str(model_dir),
                                      "--port", str(port), "--concurrency", str(concurrency)],
                                     cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if _loopback_status(port) == 200:   # our own server on 127.0.0.1, nothing remote
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise LatentEditError(f"the app did not start; its log: {cwd / 'app_server.log'}") from None
                time.sleep(0.5)

    def close(self) -> None:
        """Stop the server process."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def build_timing_model(directory: Path, resolution: int, seed: int = 0) -> Path:
    """An untrained default-architecture model with ``smile``/``eye_open``/``mouth_open`` boundaries."""
    torch.manual_seed(seed)
    model = SwapAutoencoder(ModelConfig(resolution=resolution, identities=("A", "B"))).eval()
    save_pretrained(model, directory)
    rng = np.random.default_rng(seed)
    renders = [render(IdentityParams.sample(rng), ExpressionParams.sample(rng), resolution) for _ in range(48)]
    x = to_model(np.stack([r.image for r in renders]))
    with torch.no_grad():
        z = model.encode(x).numpy()
    for attr in ("smile", "eye_open", "mouth_open"):
        y = np.array([r.attributes[attr] for r in renders])
        BoundaryFitter(method="ridge", random_state=seed).fit(z, y).to_boundary(attr, model.model_id).save(
            directory / "boundaries")
    return directory


def _inputs(folder: Path, resolution: int, seed: int) -> dict[str, Path]:
    """An aligned face crop at the model resolution and a photo with the face on a larger canvas."""
    rng = np.random.default_rng(seed + 1)
    face = render(IdentityParams.sample(rng), ExpressionParams.neutral(), max(resolution, 128)).image
    crop = render(IdentityParams.sample(rng), ExpressionParams.neutral(), resolution).image
    canvas = np.full((face.shape[0] * 2, face.shape[1] * 2, 3), 100, np.uint8)
    canvas[face.shape[0] // 2:face.shape[0] // 2 + face.shape[0], face.shape[1] // 2:face.shape[1] // 2 + face.shape[1]] = face
    paths = {"aligned": folder / "crop.png", "photo": folder / "photo.png"}
    write_image(paths["aligned"], crop)
    write_image(paths["photo"], canvas)
    return paths


def _values(k: int) -> float:
    """Slider values that differ on every move (−2.5 … 2.5)."""
    return round(-2.5 + (k * 0.7) % 5.0, 1)


def _session(url: str, image: Path, aligned: bool, attribute: str, warmup: int, n: int,
             start: threading.Barrier | None, out: list[float], errors: list[str], span: list[float],
             direct=None, direct_out: list[float] | None = None) -> None:
    """One client: upload, warm up, then ``n`` timed slider moves. With ``direct`` (1 client), each
    move is preceded by the same edit as an in-process call, so both see the same machine load."""
    from gradio_client import Client, handle_file

    try:
        client = Client(url, verbose=False)
        picker = client.predict(handle_file(str(image)), aligned, api_name="/load_image")[1]
        face = picker["value"]
        for k in range(warmup):
            client.predict(face=face, **{attribute: _values(k)}, api_name="/apply")
    except Exception as exc:  # noqa: BLE001 - counted as an error of this client
        errors.append(f"setup: {type(exc).__name__}: {exc}")
        if start is not None:
            start.abort()
        return
    if start is not None:
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
    span.append(time.perf_counter())
    for k in range(n):
        if direct is not None:
            t0 = time.perf_counter()
            direct(_values(warmup + k))
            direct_out.append((time.perf_counter() - t0) * 1000.0)
        t0 = time.perf_counter()
        try:
            img, _, _ = client.predict(face=face, **{attribute: _values(warmup + k)}, api_name="/apply")
            if not img or not Path(img).is_file():
                raise LatentEditError("no image returned")
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        out.append((time.perf_counter() - t0) * 1000.0)
    span.append(time.perf_counter())


def _run_clients(url: str, image: Path, aligned: bool, attribute: str, clients: int, warmup: int,
                 n: int, direct=None) -> dict[str, Any]:
    lat: list[list[float]] = [[] for _ in range(clients)]
    spans: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    barrier = threading.Barrier(clients) if clients > 1 else None
    direct_ms: list[float] = []
    threads = [threading.Thread(target=_session, args=(url, image, aligned, attribute, warmup, n, barrier, lat[i],
                                                       errors, spans[i], direct, direct_ms)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [v for per in lat for v in per]
    starts = [s[0] for s in spans if len(s) == 2]
    ends = [s[1] for s in spans if len(s) == 2]
    wall = (max(ends) - min(starts)) if starts else float("nan")
    return {"latencies_ms": flat, "errors": errors, "wall_s": wall, "direct_ms": direct_ms}


def _direct(editor, image: Path, aligned: bool, attribute: str, warmup: int):
    """The baseline: a function running the same edit in-process on the same face (warmed up)."""
    face = editor.find_faces(read_image(image), aligned=aligned)[0]

    def call(value: float) -> None:
        editor.apply(face, Recipe(edits={attribute: value}))

    for k in range(warmup):
        call(_values(k))
    return call


def _round_trip(url: str, n: int, warmup: int) -> list[float]:
    """Latency of an endpoint that does no edit (``/reset``): the serving floor of one request."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    times = []
    for k in range(warmup + n):
        t0 = time.perf_counter()
        client.predict(api_name="/reset")
        if k >= warmup:
            times.append((time.perf_counter() - t0) * 1000.0)
    return times


def timed_model(args, tmp_path: Path) -> Path:
    """``--model`` as an absolute path (the server runs in another folder), or an untrained model of
    ``--resolution`` built in ``tmp_path`` (weights do not change the cost)."""
    if args.model is None:
        print(f"building an untrained {args.resolution}-px model for timing …")
        return build_timing_model(tmp_path / "model", args.resolution, args.seed)
    return Path(args.model).resolve()


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print a table and optionally write JSON. Returns 0."""
    if args.browser:
        return run_browser(args)
    for name in ("requests", "clients", "concurrency"):
        if getattr(args, name) < 1:
            raise LatentEditError(f"--{name} must be ≥ 1")
    if args.json and Path(args.json).exists():
        raise LatentEditError(f"{args.json} already exists; refusing to overwrite it")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="latentedit-bench-app-") as tmp:
        tmp_path = Path(tmp)
        model_dir = timed_model(args, tmp_path)
        editor = Editor.from_pretrained(model_dir)
        if not editor.attributes:
            raise LatentEditError(f"{model_dir}: no boundaries to move a slider along")
        attribute = "smile" if "smile" in editor.attributes else editor.attributes[0]
        inputs = _inputs(tmp_path, editor.resolution, args.seed)
        scenarios = [("aligned", True)] + ([("photo", False)] if args.photo else [])
        server = AppServer(model_dir, args.concurrency, tmp_path)
        rows = []
        try:
            for scenario, aligned in scenarios:
                print(f"{scenario}: 1 client × {args.requests} slider moves, each after the same direct call …")
                direct_fn = _direct(editor, inputs[scenario], aligned, attribute, args.warmup)
                r = _run_clients(server.url, inputs[scenario], aligned, attribute, 1, args.warmup,
                                 args.requests, direct=direct_fn)
                direct = r["direct_ms"]
                d50 = statistics.median(direct)
                rows.append({"scenario": scenario, "path": "direct Editor.apply (baseline)", "clients": 1,
                             "requests": len(direct), "errors": 0, "p50_ms": d50, "p95_ms": _percentile(direct, 95),
                             "p50_vs_direct": 1.0, "throughput_per_s": 1000.0 / d50})
                if scenario == "aligned":
                    floor = _round_trip(server.url, args.requests, args.warmup)
                    rows.append({"scenario": "-", "path": "app round trip, no edit (/reset)", "clients": 1,
                                 "requests": len(floor), "errors": 0, "p50_ms": _percentile(floor, 50),
                                 "p95_ms": _percentile(floor, 95), "p50_vs_direct": _percentile(floor, 50) / d50,
                                 "throughput_per_s": 1000.0 / float(np.mean(floor))})
                runs = [(1, r)]
                if scenario == "aligned" and args.clients > 1:
                    print(f"{scenario}: {args.clients} concurrent clients × {args.requests} slider moves …")
                    runs.append((args.clients, _run_clients(server.url, inputs[scenario], aligned, attribute,
                                                            args.clients, args.warmup, args.requests)))
                for clients, res in runs:
                    lat = res["latencies_ms"]
                    p50 = _percentile(lat, 50)
                    rows.append({"scenario": scenario, "path": "app via gradio_client", "clients": clients,
                                 "requests": len(lat), "errors": len(res["errors"]), "p50_ms": p50,
                                 "p95_ms": _percentile(lat, 95), "p50_vs_direct": p50 / d50,
                                 # 1 client: its wall time includes the interleaved direct calls
                                 "throughput_per_s": (1000.0 / float(np.mean(lat)) if clients == 1 and lat
                                                      else len(lat) / res["wall_s"])})
                    for e in res["errors"][:3]:
                        print(f"  error: {e}")
        finally:
            server.close()

    print(f"\nslider move → new image, {editor.resolution} px model, attribute {attribute!r}, "
          f"app concurrency {args.concurrency}")
    head = f"{'input':<8} {'path':<34} {'clients':>7} {'n':>4} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} " \
           f"{'p50/direct':>10} {'req/s':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scenario']:<8} {r['path']:<34} {r['clients']:>7} {r['requests']:>4} {r['errors']:>6} "
              f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p50_vs_direct']:>10.2f} {r['throughput_per_s']:>7.1f}")
    one = next(r for r in rows if r["path"].startswith("app") and r["clients"] == 1 and r["scenario"] == "aligned")
    verdict = "meets" if one["p50_ms"] <= TARGET_P50_MS else "misses"
    headline = (f"1 client: p50 {one['p50_ms']:.0f} ms at {editor.resolution} px ({verdict} the "
                f"{TARGET_P50_MS:.0f} ms target)")
    print(headline)
    if args.json:
        import gradio

        machine = machine_info("cpu" if editor.device.type == "cpu" else str(editor.device))
        machine["gradio"] = gradio.__version__
        # the machine may be shared: the 1-minute load average says how contended the timings were
        machine["load_average_1min_at_start"] = load_at_start
        machine["load_average_1min_at_end"] = os.getloadavg()[0]
        atomic_write_json(args.json, {
            "benchmark": "app",
            "description": "slider-move → new image latency through gradio_client against the running app "
                           "(queue + edit + PNG + download), 1 and N concurrent clients, vs a direct "
                           "Editor.apply call in the same run",
            "command": "latentedit bench app " + (f"{args.model} " if args.model else "")
                       + f"--resolution {args.resolution} --requests {args.requests} --clients {args.clients}"
                       + (" --photo" if args.photo else "") + f" --json {args.json}",
            "machine": machine,
            "settings": {"model": str(args.model or f"untrained default architecture at {args.resolution} px"),
                         "resolution": editor.resolution, "attribute": attribute, "requests_per_client":
                         args.requests, "warmup": args.warmup, "clients": args.clients,
                         "app_concurrency": args.concurrency, "photo": bool(args.photo)},
            "baseline": "direct in-process Editor.apply on the same face (no server), same run",
            "results": rows,
            "headline": headline,
            "target_p50_ms": TARGET_P50_MS,
            "notes": ["the benchmark itself keeps ~3 processes busy (app server, clients, direct baseline); on a "
                      "shared machine see machine.load_average_1min_at_start/_at_end for other load"],
        }, overwrite=False)
        print(f"wrote {args.json}")
    return 0


def run_browser(args) -> int:
    """``latentedit bench app --browser``: print the table and write ``--out`` JSON. Returns 0."""
    import gradio  # the app's optional package: only its version is recorded

    if args.json and Path(args.json).exists():
        raise LatentEditError(f"{args.json} already exists; refusing to overwrite it")
    try:
        sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    except ValueError:
        raise LatentEditError(f"--sizes {args.sizes!r}: expected sizes in pixels such as 512,1024") from None
    if not sizes or any(not 64 <= s <= 4096 for s in sizes):
        raise LatentEditError(f"--sizes {args.sizes!r}: each size must be in 64..4096 pixels")
    if args.requests < 1:
        raise LatentEditError("--requests must be ≥ 1")
    source = Path(args.image) if args.image else None
    if source is not None and not source.is_file():
        raise LatentEditError(f"--image {source}: no such file")
    chromium_path()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="latentedit-bench-browser-") as tmp:
        tmp_path = Path(tmp)
        model_dir = timed_model(args, tmp_path)
        editor = Editor.from_pretrained(model_dir, device="cpu")
        if not editor.attributes:
            raise LatentEditError(f"{model_dir}: no boundaries to move a slider along")
        attribute = timed_attribute(editor.attributes)
        resolution = editor.resolution
        del editor
        server = AppServer(model_dir, args.concurrency, tmp_path)
        try:
            print(f"Chromium: {len(sizes)} photo sizes × {args.requests} key presses on the {attribute!r} slider …")
            rows = measure(server.url, attribute, sizes, tmp_path, args.requests, args.warmup, args.seed, source)
        finally:
            server.close()
    print(f"\nkey press → result <img> load, {resolution} px model, attribute {attribute!r}")
    head = f"{'photo px':>8} {'n':>4} {'felt p50':>9} {'felt p95':>9} {'server p50':>11} {'server p95':>11} {'overhead p50':>13}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['photo_px']:>8} {r['requests']:>4} {r['felt_p50_ms']:>9.1f} {r['felt_p95_ms']:>9.1f} "
              f"{r['server_p50_ms']:>11.1f} {r['server_p95_ms']:>11.1f} {r['overhead_p50_ms']:>13.1f}")
    big = max(rows, key=lambda r: r["photo_px"])
    verdict = "meets" if big["felt_p50_ms"] <= TARGET_P50_MS else "misses"
    headline = (f"felt p50 {big['felt_p50_ms']:.0f} ms on a {big['photo_px']}-px photo (server {big['server_p50_ms']:.0f} "
                f"ms; {verdict} the {TARGET_P50_MS:.0f} ms target)")
    print(headline)
    if args.json:
        machine = machine_info("cpu")
        machine.update(gradio=gradio.__version__, chromium=str(chromium_path()),
                       load_average_1min_at_start=load_at_start, load_average_1min_at_end=os.getloadavg()[0])
        atomic_write_json(args.json, {
            "benchmark": "app_browser",
            "description": "felt slider latency in Chromium: keydown on the slider → load event of the new result "
                           "<img> (page clock), with the server's own time per move (edit + preview encoding) "
                           "from the same moves",
            "command": "latentedit bench app --browser " + (f"{args.model} " if args.model else
                                                            f"--resolution {args.resolution} ")
                       + f"--sizes {','.join(map(str, sizes))} --requests {args.requests}"
                       + (f" --image {args.image}" if args.image else "") + f" --out {args.json}",
            "machine": machine,
            "settings": {"model": str(args.model or f"untrained default architecture at {args.resolution} px"),
                         "resolution": resolution, "attribute": attribute, "requests": args.requests,
                         "warmup": args.warmup, "app_concurrency": args.concurrency,
                         "preview_max_side": DISPLAY_MAX_SIDE, "preview_format": f"JPEG q{PREVIEW_QUALITY}",
                         "photo": str(args.image or "a SynthFaces face on a plain canvas")},
            "baseline": "the server's own time for the same moves (status line 'edited in N ms')",
            "results": rows,
            "headline": headline,
            "target_p50_ms": TARGET_P50_MS,
        }, overwrite=False)
        print(f"wrote {args.json}")
    return 0
