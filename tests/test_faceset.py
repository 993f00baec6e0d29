"""FaceSet format: round trip, atomic writing, validation errors, filters, CelebA import."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from latentedit import FaceRecord, FaceSet, FaceSetError, FaceSetWriter
from latentedit.celeba import import_celeba

from .conftest import shared_path


def _record(name: str, identity: str = "A", size: int = 16, **attrs: float) -> FaceRecord:
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    return FaceRecord(image=f"images/{name}.png", identity=identity, size=size,
                      source={"file": "clip.mp4", "frame": 3},
                      landmarks=rng.uniform(0, size, (68, 2)),
                      affine=np.array([[0.5, 0, -10], [0, 0.5, -4]]),
                      attributes=attrs, attribute_sources={k: "measured" for k in attrs},
                      descriptor=rng.normal(size=128))


def _image(seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _write(root, n=4):
    with FaceSetWriter(root) as w:
        for i in range(n):
            w.add(_image(i), _record(f"{i:03d}", identity="A" if i % 2 == 0 else "B", smile=i / 10))
    return FaceSet(root)


def test_round_trip_preserves_images_and_records(tmp_path):
    fs = _write(tmp_path / "fs")
    back = FaceSet(tmp_path / "fs")
    assert len(back) == 4
    for i in range(4):
        np.testing.assert_array_equal(back.read_image(i), _image(i))
        want = _record(f"{i:03d}", identity="A" if i % 2 == 0 else "B", smile=i / 10)
        got = back.records[i]
        assert got.identity == want.identity and got.source == want.source
        np.testing.assert_allclose(got.landmarks, want.landmarks, atol=1e-3)
        np.testing.assert_allclose(got.affine, want.affine)
        np.testing.assert_allclose(got.descriptor, want.descriptor, atol=1e-6)
        assert got.attributes == pytest.approx({"smile": i / 10})
    item = fs[1]
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype.is_floating_point
    assert 0.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert item["identity"] == "B"
    batch = fs.load_images()
    assert batch.shape == (4, 3, 16, 16) and str(batch.dtype) == "torch.uint8"
    assert fs.load_images(size=8).shape == (4, 3, 8, 8)


def test_transform_applied(tmp_path):
    fs = FaceSet(_write(tmp_path / "fs").root, transform=lambda t: t * 2 - 1)
    assert float(fs[0]["image"].min()) < 0


def test_filter_by_identity_and_attribute(tmp_path):
    fs = _write(tmp_path / "fs")
    assert len(fs.filter(identity="A")) == 2
    assert len(fs.filter(smile=(0.15, None))) == 2
    assert [r.image for r in fs.filter(identity="B", smile=(None, 0.15)).records] == ["images/001.png"]
    with pytest.raises(FaceSetError, match="unknown identity"):
        fs.filter(identity="Z")
    with pytest.raises(FaceSetError, match="unknown attribute 'smiel'"):
        fs.filter(smiel=(0, 1))
    np.testing.assert_allclose(fs.attribute_matrix(["smile"])[:, 0], [0, 0.1, 0.2, 0.3], atol=1e-6)
    train, val = fs.split(0.25, seed=1)
    assert len(train) == 3 and len(val) == 1
    assert {r.image for r in train.records} | {r.image for r in val.records} == {r.image for r in fs.records}


def test_writer_refuses_to_overwrite(tmp_path):
    _write(tmp_path / "fs")
    before = (tmp_path / "fs" / "faces.jsonl").read_bytes()
    with pytest.raises(FaceSetError, match="already holds a FaceSet"):
        FaceSetWriter(tmp_path / "fs")
    with FaceSetWriter(tmp_path / "fs", mode="append") as w:
        with pytest.raises(FaceSetError, match="already has a record"):
            w.add(_image(9), _record("000"))
        w.add(_image(9), _record("new", smile=1.0))
    assert len(FaceSet(tmp_path / "fs")) == 5
    assert (tmp_path / "fs" / "faces.jsonl").read_bytes().startswith(before)


def test_abandoned_writer_has_indexed_every_added_face(tmp_path):
    """The index is append-only: a writer that dies without close() has already indexed every face."""
    root = tmp_path / "fs"
    w = FaceSetWriter(root)
    for i in range(3):
        w.add(_image(i), _record(f"{i:03d}"))
    # Simulate a crash: the writer is abandoned without close().
    text = (root / "faces.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 3
    assert [r.image for r in FaceSet(root).records] == [f"images/{i:03d}.png" for i in range(3)]
    assert not list(root.glob(".*.tmp*"))
    with pytest.raises(FaceSetError, match="another process is writing this FaceSet"):
        FaceSetWriter(root, mode="append")  # the index stays locked while a writer holds it
    w.close()


def test_writer_crash_in_subprocess_leaves_valid_index(tmp_path):
    root = tmp_path / "fs"
    code = (
        "import os, numpy as np\n"
        "from latentedit import FaceSetWriter, FaceRecord\n"
        f"w = FaceSetWriter({str(root)!r}, flush_every=3)\n"
        "for i in range(7):\n"
        "    w.add(np.zeros((16,16,3),np.uint8), FaceRecord(image=f'images/{i}.png', identity='A', size=16))\n"
        "os._exit(1)\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    fs = FaceSet(root)
    assert len(fs) == 7  # every added face, although the writer never closed
    with FaceSetWriter(root, mode="append") as w:  # the lock died with the process
        assert len(w.records) == 7


def test_reopening_after_a_kill_drops_torn_line_and_orphan(tmp_path):
    """What kill -9 can leave mid-add: a crop with no record, a half-written line, a temp file."""
    root = tmp_path / "fs"
    _write(root, n=2)
    index = root / "faces.jsonl"
    good = index.read_bytes()
    line = json.dumps(_record("002").to_json()) + "\n"
    index.write_bytes(good + line[:50].encode())  # the line being written when the process died
    (root / "images" / "002.png").write_bytes(b"orphan crop")
    (root / "images" / "003.png").write_bytes(b"orphan crop, index line never started")
    (root / ".faces.pending").write_text("images/000.png\nimages/002.png\nimages/003.png\n")
    temp = root / "images" / ".004.png.999999-abcd1234.tmp.png"
    temp.write_bytes(b"half a png")
    user = [root / "images" / "mine.png", root / "images" / ".004.png.tmp.png", root / "notes.tmp"]
    for p in user:
        p.write_bytes(b"the user's")
    with pytest.warns(RuntimeWarning, match=r"faces.jsonl line 3: dropped a half-written last line"):
        assert len(FaceSet(root)) == 2  # readers skip the torn line too
    with pytest.warns(RuntimeWarning, match="half-written"):
        w = FaceSetWriter(root, mode="append")
    assert index.read_bytes() == good
    assert not (root / "images" / "002.png").exists() and not (root / "images" / "003.png").exists()
    assert (root / "images" / "000.png").is_file()  # named in the pending list but indexed: kept
    assert not temp.exists() and all(p.read_bytes() == b"the user's" for p in user)
    assert not (root / ".faces.pending").exists()
    assert w.next_name() == "images/000002.png"
    w.add(_image(2), _record("002"))
    w.close()
    assert not (root / ".faces.pending").exists()
    assert [r.image for r in FaceSet(root).records] == ["images/000.png", "images/001.png", "images/002.png"]


def test_old_index_without_final_newline_is_appended_to(tmp_path):
    root = tmp_path / "fs"
    _write(root, n=2)
    index = root / "faces.jsonl"
    index.write_bytes(index.read_bytes().rstrip(b"\n"))  # hand-edited, or written by another tool
    assert len(FaceSet(root)) == 2
    with FaceSetWriter(root, mode="append") as w:
        w.add(_image(5), _record("005"))
    assert len(FaceSet(root)) == 3 and index.read_bytes().endswith(b"}\n")


@pytest.mark.parametrize("mutate, message", [
    (lambda o: o.update(landmarks=o["landmarks"][:67]), "line 2: field 'landmarks': expected 68 points, got 67"),
    (lambda o: o.pop("identity"), "line 2: field 'identity': missing"),
    (lambda o: o.update(size="big"), "line 2: field 'size'"),
    (lambda o: o.update(affine=[[1, 0], [0, 1]]), "line 2: field 'affine': expected shape"),
    (lambda o: o["attributes"].update(smile=float("nan")), "field 'attributes'"),
    (lambda o: o["attribute_sources"].update(smile="guess"), "field 'attribute_sources'"),
    (lambda o: o.update(colour=1), "unknown field"),
    (lambda o: o.update(image="../../etc/passwd"), "field 'image': must be a path inside"),
])
def test_bad_records_name_line_and_field(tmp_path, mutate, message):
    fs = _write(tmp_path / "fs", n=3)
    index = fs.root / "faces.jsonl"
    lines = index.read_text().splitlines()
    obj = json.loads(lines[1])
    mutate(obj)
    lines[1] = json.dumps(obj)
    index.write_text("\n".join(lines) + "\n")
    with pytest.raises(FaceSetError) as exc:
        FaceSet(fs.root)
    assert message in str(exc.value) and "faces.jsonl" in str(exc.value)


def test_malformed_json_and_missing_files(tmp_path):
    fs = _write(tmp_path / "fs", n=2)
    index = fs.root / "faces.jsonl"
    index.write_text(index.read_text() + '{"image": "images/x.png", "identity"\n')
    with pytest.raises(FaceSetError, match="line 3: malformed JSON"):
        FaceSet(fs.root)
    with pytest.raises(FaceSetError, match="not a FaceSet"):
        FaceSet(tmp_path)
    fs = _write(tmp_path / "fs2", n=2)
    (fs.root / "images" / "000.png").write_bytes(b"not a png")
    with pytest.raises(FaceSetError, match="000.png.*cannot read image"):
        fs.read_image(0)
    (fs.root / "images" / "001.png").unlink()
    with pytest.raises(FaceSetError, match="file not found"):
        fs[1]


def _write_celeba_fixture(root, n=5):
    from PIL import Image

    names = ["Smiling", "Big_Nose", "Male"]
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        img = np.full((109, 89, 3), 40 * i, np.uint8)
        img[60:70, 40:50] = 255  # a marker inside the square crop window
        Image.fromarray(img).save(root / "images" / name)
        rows.append(f"{name} " + " ".join(" 1" if (i + j) % 2 else "-1" for j in range(len(names))))
    (root / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(names) + " \n" + "\n".join(rows) + "\n")
    (root / "identity_CelebA.txt").write_text("\n".join(f"{i + 1:06d}.jpg {100 + i // 2}" for i in range(n)) + "\n")
    return names


def test_celeba_importer_on_official_format(tmp_path):
    names = _write_celeba_fixture(tmp_path / "celeba")
    fs = import_celeba(tmp_path / "celeba", tmp_path / "out", size=32, progress=False)
    assert len(fs) == 5
    assert fs.identities == ["100", "101", "102"]
    rec = fs.records[1]
    assert rec.attributes == {"Smiling": 1.0, "Big_Nose": 0.0, "Male": 1.0}
    assert set(rec.attribute_sources.values()) == {"celeba"}
    img = fs.read_image(1)
    assert img.shape == (32, 32, 3)
    # The affine maps the marker's source position into the crop, where the crop shows it.
    cx, cy = rec.affine @ np.array([44.5, 64.5, 1.0])
    assert img[int(cy), int(cx)].min() > 200
    assert set(names) == set(fs.attribute_names)


def test_celeba_importer_errors(tmp_path):
    _write_celeba_fixture(tmp_path / "celeba")
    f = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = f.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0]
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(FaceSetError, match="list_attr_celeba.txt line 4: expected 3 attribute values, got 2"):
        import_celeba(tmp_path / "celeba", tmp_path / "out", progress=False)
    with pytest.raises(FaceSetError, match="no list_attr_celeba.txt"):
        import_celeba(tmp_path, tmp_path / "out2", progress=False)


@pytest.mark.shared
def test_celeba10k_import_sample(tmp_path):
    src = shared_path("data", "celeba10k")
    fs = import_celeba(src, tmp_path / "celeba", size=64, limit=40, progress=False)
    assert len(fs) == 40 and len(fs.attribute_names) == 40
    smiling = fs.attribute_matrix(["Smiling"])[:, 0]
    assert set(np.unique(smiling)) <= {0.0, 1.0} and 0 < smiling.sum() < 40
    assert fs.read_image(0).shape == (64, 64, 3)


def test_celeba_framing_matches_align_face():
    """Imported CelebA crops use the canonical framing of faces detected in photos."""
    from latentedit.celeba import CELEBA_MEAN_POINTS_178, celeba_affine
    from latentedit.faces.align import canonical_landmarks

    for size in (64, 128):
        affine = celeba_affine(109, 89, size)
        eyes = np.c_[CELEBA_MEAN_POINTS_178[:2] * 89 / 178, np.ones(2)] @ affine.T
        canon = canonical_landmarks(size)
        want = np.stack([canon[36:42].mean(0), canon[42:48].mean(0)])
        np.testing.assert_allclose(eyes, want, atol=0.02 * size)
