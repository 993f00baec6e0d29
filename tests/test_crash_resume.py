"""kill -9 at any moment: nothing is lost, no junk is left, and a re-run continues exactly.

The two loops start ``latentedit train`` / ``latentedit extract`` as subprocesses and SIGKILL them,
alternately at a seeded random time and at a seeded random file-system call (the wrapper below
patches ``os.replace/rename/unlink/link/fsync/ftruncate/write`` to SIGKILL the process just before
the N-th call, writing half the bytes first for ``os.write``): the second kind lands inside
checkpoint, model-folder and FaceSet writes by construction. Between kills the on-disk state is
checked (every checkpoint reads back, ``RUN/model`` is one consistent version, every indexed crop
exists); at the end the result is compared with an uninterrupted run, bit for bit.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from latentedit._io import atomic_dir, atomic_path, is_stale_temp, recover_dir, remove_stale_temps
from latentedit.errors import LatentEditError

REPO = Path(__file__).resolve().parents[1]

#: Runs the CLI; with CRASH_AT=N it SIGKILLs itself just before its N-th file-system call, with
#: CRASH_AT=NAME:N just before its N-th call of os.NAME.
WRAPPER = r'''
import os, signal, sys
only, _, n = os.environ.get("CRASH_AT", "0").rpartition(":")
n = int(n)
if n:
    calls = [0]
    def hook(name, fn):
        def wrapped(*args, **kwargs):
            calls[0] += name == only or not only
            if calls[0] == n and (name == only or not only):
                if name == "write" and len(args) == 2 and len(args[1]) > 1:
                    fn(args[0], args[1][: len(args[1]) // 2])  # a torn write, as after a power cut
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return wrapped
    for name in ("replace", "rename", "unlink", "link", "fsync", "ftruncate", "write"):
        setattr(os, name, hook(name, getattr(os, name)))
from latentedit.cli.main import main
sys.exit(main(sys.argv[1:]))
'''


def _leftovers(root: Path) -> list[Path]:
    """Temp files and staging folders anywhere under ``root`` (what a kill mid-write leaves)."""
    return sorted(p for p in root.rglob(".*") if ".tmp" in p.name or p.name.endswith((".olddir", ".tmpdir"))
                  or p.name == ".faces.pending")


class _Killer:
    """Starts the wrapped CLI and kills it; alternates timed kills and kills at a file-system call."""

    def __init__(self, tmp: Path, seed: int) -> None:
        self.script = tmp / "wrapper.py"
        self.script.write_text(WRAPPER)
        self.rng = random.Random(seed)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                    "OMP_NUM_THREADS": "1"}

    def run(self, argv: list[str], crash_at: int | str = 0, kill_when=None, delay: float = 0.0,
            timeout: float = 120.0) -> str:
        """Returns ``"killed"`` or ``"finished"`` (asserting a clean exit)."""
        env = dict(self.env, CRASH_AT=str(crash_at))
        proc = subprocess.Popen([sys.executable, str(self.script), *argv], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        t0 = time.monotonic()
        try:
            if kill_when is not None:
                while proc.poll() is None and not kill_when():
                    assert time.monotonic() - t0 < timeout, "the subprocess made no progress"
                    time.sleep(0.005)
                time.sleep(delay)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode == -signal.SIGKILL:
            return "killed"
        assert proc.returncode == 0, err.decode()[-2000:]
        return "finished"


# -- units -----------------------------------------------------------------------------------------
def _dead_pid() -> int:
    out = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(out.stdout)


def test_remove_stale_temps_only_matches_atomic_path_names(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    stale = [f".model.safetensors.{dead}-abcd_123.tmp.safetensors", ".faces.jsonl.k2j4h5g6.tmp.jsonl",
             f".config.json.{dead}-zzzzzzzz.tmp.json", f".LICENSE.{dead}-a1b2c3d4.tmp"]
    kept = [f".model.safetensors.{alive}-abcd_123.tmp.safetensors",  # its writer is still running
            ".model.safetensors.abcd123.tmp.safetensors",  # 7 random characters: not mkstemp's
            f".model.safetensors.{dead}-abcd_123.tmp.json",  # suffix differs from the name's
            "model.safetensors.abcd_123.tmp.safetensors", "notes.tmp", ".hidden", "step_00000001.pt",
            f".x.png.{dead}-ABCDEFGH.tmp.png"]
    (tmp_path / "sub").mkdir()
    for name in stale + kept:
        (tmp_path / name).write_text("x")
        (tmp_path / "sub" / name).write_text("x")
    (tmp_path / f".dir.{dead}-abcdefgh.tmp").mkdir()  # a folder of that name is not ours
    with atomic_path(tmp_path / "live.json") as live:  # a write in progress in this process
        live.write_text("{}")
        removed = remove_stale_temps(tmp_path)
        assert live.exists()
    assert sorted(p.name for p in removed) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(kept + ["live.json"])
    assert len(list((tmp_path / "sub").iterdir())) == len(stale + kept)  # not recursive by default
    assert len(remove_stale_temps(tmp_path, recursive=True)) == len(stale)
    assert not is_stale_temp(tmp_path / "missing") and remove_stale_temps(tmp_path / "missing") == []


def _folder(path: Path, **files: str) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_atomic_dir_swaps_whole_folders_and_recovers_every_kill_point(tmp_path, monkeypatch):
    target = _folder(tmp_path / "model", **{"config.json": "v1", "weights": "v1", "mine.txt": "user"})
    (target / "boundaries").mkdir()
    (target / "boundaries" / "smile.json").write_text("b")
    with atomic_dir(target, carry=lambda n: n != "weights") as stage:
        (stage / "config.json").write_text("v2")
        assert (target / "config.json").read_text() == "v1"  # nothing visible before the swap
    assert {p.name for p in target.iterdir()} == {"config.json", "mine.txt", "boundaries"}
    assert (target / "config.json").read_text() == "v2" and (target / "boundaries" / "smile.json").read_text() == "b"
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as stage:
            (stage / "config.json").write_text("v3")
            raise RuntimeError("boom")
    assert (target / "config.json").read_text() == "v2" and not _leftovers(tmp_path)

    # Where the folder cannot be renamed (here: it is the working directory), files are renamed in.
    monkeypatch.chdir(target)
    (target / "weights").write_text("v2")
    with atomic_dir(target, carry=lambda n: n != "weights") as stage:
        (stage / "config.json").write_text("v3")
    assert {p.name for p in target.iterdir()} == {"config.json", "mine.txt", "boundaries"}
    assert (target / "config.json").read_text() == "v3" and not _leftovers(tmp_path)
    monkeypatch.chdir(tmp_path)
    (target / "config.json").write_text("v2")

    # The states a kill -9 can leave (process `dead` is gone), and what recover_dir makes of them.
    token = f"{_dead_pid()}-abcdefgh"
    stage, old = tmp_path / f".model.{token}.tmpdir", tmp_path / f".model.{token}.olddir"
    _folder(stage, **{"config.json": "half"})  # killed while building the new version
    recover_dir(target)
    assert not stage.exists() and (target / "config.json").read_text() == "v2"
    target.rename(old)  # killed between the two renames: the new version is complete
    _folder(stage, **{"config.json": "v3", "mine.txt": "user"})
    recover_dir(target)
    assert (target / "config.json").read_text() == "v3" and not _leftovers(tmp_path)
    _folder(old, **{"config.json": "v2", "late.txt": "written meanwhile", "weights": "stale"})
    recover_dir(target, carry=lambda n: n != "weights")  # killed while deleting the old version
    assert {p.name for p in target.iterdir()} == {"config.json", "mine.txt", "boundaries", "late.txt"}
    _folder(old, **{"config.json": "v3"})
    shutil.rmtree(target)  # old version renamed away, no new one: put the old one back
    recover_dir(target)
    assert (target / "config.json").read_text() == "v3" and not _leftovers(tmp_path)


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)], ids=["umask022", "umask077"])
def test_files_get_the_users_umask(tmp_path, umask, mode):
    """safetensors' save_file recreates the file; the mode must survive it."""
    from latentedit.faceset import FaceRecord, FaceSetWriter
    from latentedit.models import ModelConfig, SwapAutoencoder
    from latentedit.train.state import save_checkpoint

    model = SwapAutoencoder(ModelConfig(resolution=64, latent_dim=16, enc_channels=8, dec_channels=8,
                                        inter_channels=16, identities=("A", "B")))
    old = os.umask(umask)
    try:
        model.save_pretrained(tmp_path / "m")
        model.save_pretrained(tmp_path / "m", overwrite=True)  # replaced as a whole, same modes
        save_checkpoint(tmp_path / "run", 1, {"model": model.state_dict()}, keep=2)
        with FaceSetWriter(tmp_path / "fs") as w:
            w.add(np.zeros((16, 16, 3), np.uint8), FaceRecord(image="images/0.png", identity="A", size=16))
    finally:
        os.umask(old)
    files = [tmp_path / "m" / "model.safetensors", tmp_path / "m" / "config.json",
             tmp_path / "run" / "checkpoints" / "step_00000001.pt", tmp_path / "fs" / "faces.jsonl",
             tmp_path / "fs" / "images" / "0.png"]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(mode) for p in files}
    assert oct((tmp_path / "m").stat().st_mode & 0o777) == oct(0o777 & ~umask)


def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_train_helpers import tiny_config

    from latentedit.models import load_model
    from latentedit.train import list_checkpoints, train
    from latentedit.train.state import load_latest_checkpoint

    full = train(tiny_config(tmp_path, "full", steps=4, checkpoint_every=1))
    train(tiny_config(tmp_path, "run", steps=3, checkpoint_every=1, keep_checkpoints=3))
    run = tmp_path / "run"
    ckpts = [p for _, p in list_checkpoints(run)]
    data = ckpts[-1].read_bytes()
    ckpts[-1].write_bytes(data[: len(data) // 2])  # truncated step 3
    with pytest.warns(RuntimeWarning, match=r"step_00000003.pt: cannot read checkpoint .*using the previous good "
                                            r"checkpoint step_00000002.pt"):
        resumed = train(tiny_config(tmp_path, "run", steps=4, checkpoint_every=1, keep_checkpoints=3, resume=True))
    assert resumed["steps_run"] == 2 and resumed["model_id"] == full["model_id"]  # steps 3 and 4 again, exactly
    assert load_model(run).model_id == full["model_id"]
    assert [s for s, _ in list_checkpoints(run)] == [2, 3, 4]  # the bad file was replaced at step 3
    # garbage, a foreign torch file, nothing readable
    ckpts = [p for _, p in list_checkpoints(run)]
    ckpts[-1].write_bytes(b"\x00garbage" * 100)
    torch.save({"weights": torch.zeros(2)}, ckpts[-2])
    with pytest.warns(RuntimeWarning) as caught:
        path, payload = load_latest_checkpoint(run)
    assert path == ckpts[0] and payload["step"] == 2
    msgs = [str(w.message) for w in caught]
    assert "step_00000004.pt: cannot read checkpoint" in msgs[0]
    assert "step_00000003.pt: not a latentedit checkpoint (no model, disc, opt, opt_d, step, rng)" in msgs[1]
    ckpts[0].write_bytes(b"")
    with pytest.raises(LatentEditError) as exc:
        load_latest_checkpoint(run)
    assert "none of the 3 checkpoint(s) can be read" in str(exc.value) and "\n" not in str(exc.value)


# -- train: the kill loop --------------------------------------------------------------------------
def _check_model_folder(model_dir: Path) -> int | None:
    """``RUN/model`` is one version: config.json's model_id is the weights' (and the critics').
    Returns its train step (None when there is no model yet)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from latentedit.models.hub import weights_sha256

    if not (model_dir / "config.json").is_file():
        return None
    cfg = json.loads((model_dir / "config.json").read_text())
    assert weights_sha256(load_file(str(model_dir / "model.safetensors")))[:12] == cfg["model_id"]
    with safe_open(str(model_dir / "discriminators.safetensors"), "pt") as f:
        assert f.metadata()["model_id"] == cfg["model_id"]
    assert (model_dir / "alignment_template.json").is_file()
    return cfg["extra"]["train_step"]


def _newest_step(run: Path) -> int:
    from latentedit.train import list_checkpoints

    found = list_checkpoints(run)
    return found[-1][0] if found else 0


def test_train_killed_at_random_resumes_bit_exact(tmp_path):
    from safetensors.torch import load_file

    from latentedit.cli.main import main
    from latentedit.train import list_checkpoints
    from latentedit.train.state import load_checkpoint

    assert main(["synth", "--out", str(tmp_path / "faces"), "--identities", "2", "--per-identity", "6",
                 "--size", "64", "--seed", "1"]) == 0
    steps, kills = 20, int(os.environ.get("LATENTEDIT_CRASH_KILLS", "6"))

    def argv(out: Path) -> list[str]:
        faces = tmp_path / "faces"
        return ["train", "--data", f"A={faces}@id000", "--data", f"B={faces}@id001", "--out", str(out),
                "--size", "64", "--steps", str(steps), "--batch", "2", "--latent-dim", "16", "--enc-channels", "8",
                "--dec-channels", "8", "--inter-channels", "16", "--checkpoint-every", "1", "--keep-checkpoints", "2",
                "--preview-every", "3", "--log-every", "1", "--gan-power", "0.1", "--gan-start", "2", "--threads", "1", "--quiet",
                "--no-tensorboard"]

    run, ref = tmp_path / "run", tmp_path / "ref"
    killer = _Killer(tmp_path, seed=12)
    outcomes = []
    for i in range(kills):
        args = argv(run) + (["--resume"] if (run / "config.json").is_file() else [])
        start = _newest_step(run)
        if i % 2 == 0:  # at a random moment once training is under way
            result = killer.run(args, kill_when=lambda: _newest_step(run) > start,
                                delay=killer.rng.uniform(0.0, 0.3))
        else:  # just before a random file-system call: inside a write by construction
            result = killer.run(args, crash_at=killer.rng.randint(1, 60))
        assert result == "killed", f"kill {i}: the run finished first; raise `steps`"
        left = _leftovers(run)
        for _, ck in list_checkpoints(run):
            load_checkpoint(ck)  # atomic: every checkpoint present reads back
        model_step = _check_model_folder(run / "model")
        outcomes.append({"kind": "timed" if i % 2 == 0 else "fs-call", "step": _newest_step(run),
                         "model_step": model_step, "in_write": bool(left),
                         "between": not left and model_step != (_newest_step(run) or None)})
    assert main(argv(ref)) == 0  # the uninterrupted reference (in-process: same code, same thread count)
    assert killer.run(argv(run) + ["--resume"]) == "finished"
    print("\ntrain kills:", json.dumps(outcomes))
    assert sum(o["in_write"] or o["between"] for o in outcomes) >= 1

    assert _leftovers(run) == [] and not [p for p in run.rglob("*") if ".tmp" in p.name]
    assert _check_model_folder(run / "model") == steps
    a, b = load_file(str(run / "model" / "model.safetensors")), load_file(str(ref / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((run / "model" / "config.json").read_text())["model_id"] == \
        json.loads((ref / "model" / "config.json").read_text())["model_id"]
    ca, cb = (load_checkpoint(list_checkpoints(r)[-1][1]) for r in (run, ref))
    for key in ("model", "disc", "aux"):
        assert ca[key].keys() == cb[key].keys() and all(torch.equal(ca[key][k], cb[key][k]) for k in ca[key])
    for key in ("opt", "opt_d"):
        for sa, sb in zip(ca[key]["state"].values(), cb[key]["state"].values()):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    metrics = [[json.loads(line) for line in (r / "metrics.jsonl").read_text().splitlines()] for r in (run, ref)]
    assert [m["step"] for m in metrics[0]] == list(range(1, steps + 1))
    assert [m["loss"] for m in metrics[0]] == [m["loss"] for m in metrics[1]]


# -- extract: the kill loop ------------------------------------------------------------------------
def _photos(folder: Path) -> Path:
    """Six SynthFaces photos (every other one with two faces) and a five-frame video."""
    import av
    from PIL import Image

    from latentedit.synth import expression_params, identity_params, render

    folder.mkdir()
    for i in range(6):
        canvas = np.full((180, 340, 3), 60 + 20 * i, np.uint8)
        for k in range(2 if i % 2 else 1):
            face = render(identity_params(3, 2 * i + k), expression_params(3, 2 * i + k, 0), 150).image
            canvas[15:165, 15 + 170 * k:165 + 170 * k] = face
        Image.fromarray(canvas).save(folder / f"photo{i}.png")
    with av.open(str(folder / "clip.mp4"), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 192, 192, "yuv420p"
        for j in range(5):
            frame = np.full((192, 192, 3), 90, np.uint8)
            frame[21:171, 21:171] = render(identity_params(4, 0), expression_params(4, 0, j), 150).image
            for pkt in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return folder


def _check_faceset(root: Path) -> int:
    """Every indexed crop is in place and readable (a torn last line is only warned about)."""
    import warnings

    from latentedit.faceset import FaceSet

    if not (root / "faces.jsonl").is_file():
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fs = FaceSet(root)
    for i in range(len(fs)):
        fs.read_image(i)
    return len(fs)


def test_extract_killed_at_random_resumes_without_duplicates_or_orphans(tmp_path):
    from latentedit.cli.main import main
    from latentedit.faceset import FaceSet

    photos = _photos(tmp_path / "photos")
    argv = lambda out: ["extract", str(photos), "--out", str(out), "--size", "64", "--all-faces",  # noqa: E731
                        "--identity", "P", "--quiet"]
    out, ref = tmp_path / "out", tmp_path / "ref"
    assert main(argv(ref)) == 0
    n_ref = len(FaceSet(ref))
    killer = _Killer(tmp_path, seed=5)
    outcomes = []
    for i in range(int(os.environ.get("LATENTEDIT_CRASH_KILLS", "6")) - 2):
        before = _check_faceset(out)
        if i % 2 == 0:
            index = out / "faces.jsonl"
            size0 = index.stat().st_size if index.is_file() else 0
            result = killer.run(argv(out), kill_when=lambda: index.is_file() and index.stat().st_size > size0,
                                delay=killer.rng.uniform(0.0, 0.25))
        else:  # mid-line (torn line + orphan crop) or just before a crop's rename (temp file left)
            crash = f"{('write', 'replace')[(i // 2) % 2]}:{killer.rng.randint(1, 3)}"
            result = killer.run(argv(out), crash_at=crash)
        if result == "finished":  # the machine was faster than the kills; what ran is still checked
            break
        index = (out / "faces.jsonl").read_bytes() if (out / "faces.jsonl").is_file() else b""
        indexed = {json.loads(line)["image"] for line in index.splitlines(keepends=True) if line.endswith(b"\n")}
        outcomes.append({"kind": "timed" if i % 2 == 0 else crash, "faces_before": before,
                         "faces_after": _check_faceset(out), "torn_line": bool(index) and not index.endswith(b"\n"),
                         "orphans": sum(f"images/{p.name}" not in indexed for p in (out / "images").glob("[!.]*.png")),
                         "leftovers": [p.name for p in _leftovers(out)]})
    assert killer.run(argv(out)) == "finished"
    print("\nextract kills:", json.dumps(outcomes))
    assert len(outcomes) >= 2

    assert (out / "faces.jsonl").read_bytes() == (ref / "faces.jsonl").read_bytes()  # same records, same order
    fs = FaceSet(out)
    assert len(fs) == n_ref and len({r.image for r in fs.records}) == n_ref
    assert len({(r.source["file"], r.source["frame"], r.extra["face_index"]) for r in fs.records}) == n_ref
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "images").iterdir())
    assert on_disk == sorted(r.image for r in fs.records)  # no orphan crops
    assert all((out / r.image).read_bytes() == (ref / r.image).read_bytes() for r in fs.records)
    assert _leftovers(out) == []
    assert any(r.extra["faces_in_frame"] == 2 for r in fs.records)
    assert any(r.source["frame"] is not None for r in fs.records)

    # A frame cut short between its two faces gets only the missing one on the re-run.
    part = tmp_path / "part"
    shutil.copytree(ref, part)
    lines = (part / "faces.jsonl").read_text().splitlines(keepends=True)
    cut = max(i for i, line in enumerate(lines) if json.loads(line)["extra"]["face_index"] == 1)
    (part / json.loads(lines[cut])["image"]).unlink()
    (part / "faces.jsonl").write_text("".join(lines[:cut] + lines[cut + 1:]))
    assert main(argv(part)) == 0
    strip = lambda text: sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "image"})  # noqa: E731
                                for line in text.splitlines())
    assert strip((part / "faces.jsonl").read_text()) == strip("".join(lines))
