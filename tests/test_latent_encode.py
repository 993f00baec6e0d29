"""encode_faceset / LatentTable: codes aligned with attributes, round trip, refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentedit.errors import LatentEditError, ModelFormatError
from latentedit.faceset import FaceRecord, FaceSetWriter
from latentedit.latent import LatentTable, encode_faceset
from latentedit.models import SwapAutoencoder, tiny_config


@pytest.fixture(scope="module")
def faceset(tmp_path_factory):
    root = tmp_path_factory.mktemp("fs")
    rng = np.random.default_rng(0)
    with FaceSetWriter(root / "fs") as w:
        for i in range(10):
            attrs = {"a": float(i)} if i % 3 else {"a": float(i), "b": 1.0}
            w.add(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
                  FaceRecord(image=f"images/{i:06d}.png", identity="P" if i < 5 else "Q", size=128, attributes=attrs,
                             attribute_sources={k: "ground_truth" for k in attrs}))
    return w.faceset()


def test_encode_batches_resize_and_align_rows(faceset, tmp_path):
    torch.manual_seed(0)
    model = SwapAutoencoder(tiny_config(64)).eval()
    t4 = encode_faceset(model, faceset, batch_size=4, progress=False)
    t1 = encode_faceset(model, faceset, batch_size=1, progress=False)
    assert t4.z.shape == (10, 32) and t4.attribute_names == ["a", "b"]
    np.testing.assert_allclose(t4.z.numpy(), t1.z.numpy(), atol=1e-5)  # batching does not change codes
    assert np.isnan(t4.column("b")[1]) and t4.column("b")[3] == 1.0 and t4.column("a")[7] == 7.0
    assert t4.identities[:6] == ["P"] * 5 + ["Q"] and t4.image_paths[2] == "images/000002.png"
    # 128-px crops are area-downscaled to the model's 64 px
    img = torch.from_numpy(faceset.read_image(3)).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.interpolate(img, size=(64, 64), mode="area") * 2 - 1
    with torch.no_grad():
        np.testing.assert_allclose(t4.z[3].numpy(), model.encode(x)[0].numpy(), atol=1e-5)

    path = t4.save(tmp_path / "lat.safetensors")
    back = LatentTable.load(path)
    assert torch.equal(back.z, t4.z) and back.model_id == model.model_id
    np.testing.assert_array_equal(back.attributes, t4.attributes)
    assert back.attribute_sources == {"a": "ground_truth", "b": "ground_truth"}
    assert back.faceset == str(faceset.root)
    with pytest.raises(LatentEditError, match="already exists"):
        t4.save(path)
    with pytest.raises(LatentEditError, match="unknown attribute 'c'; the latents have: a, b"):
        back.column("c")


def test_load_errors(tmp_path):
    with pytest.raises(ModelFormatError, match="not found"):
        LatentTable.load(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    with pytest.raises(ModelFormatError, match="bad.safetensors"):
        LatentTable.load(bad)
    from safetensors.torch import save_file

    save_file({"z": torch.zeros(3, 4)}, str(tmp_path / "noattr.safetensors"))
    with pytest.raises(ModelFormatError, match="expected tensors 'z' and 'attributes'"):
        LatentTable.load(tmp_path / "noattr.safetensors")
    with pytest.raises(LatentEditError, match="2 attribute columns but 1 names"):
        LatentTable(z=torch.zeros(3, 4), attributes=np.zeros((3, 2)), attribute_names=["x"], model_id="m")
