"""``latentedit encode MODEL FACESET --out latents.safetensors``: latent codes + attributes, row by row."""
from __future__ import annotations

import argparse

from ..edit.editor import load_model
from ..faceset import FaceSet
from ..latent.encode import encode_faceset
from ._checks import bounded_int, check_output_file

#: ``--batch`` and ``--workers`` ranges.
MAX_BATCH, MAX_WORKERS = 4096, 64


#: ``latentedit encode --help``: what the command does.
DESCRIPTION = ("Encode every face of FACESET with MODEL and write the codes with the "
               "FaceSet's attributes aligned row by row (safetensors: 'z' N×D, "
               "'attributes' N×K with NaN for missing).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register ``latentedit encode``'s arguments on its parser (made by :mod:`latentedit.cli.main`)."""
    p.add_argument("model", metavar="MODEL", help="pretrained model folder or training run folder")
    p.add_argument("faceset", metavar="FACESET", help="FaceSet folder (holding faces.jsonl)")
    p.add_argument("--out", required=True, help="output .safetensors file (never overwritten unless --overwrite)")
    p.add_argument("--attribute", nargs="+", default=None, metavar="NAME",
                   help="attribute columns to keep (default: all of the FaceSet's)")
    p.add_argument("--batch", type=bounded_int(1, MAX_BATCH), default=64,
                   help=f"faces per forward pass, 1..{MAX_BATCH} (default 64)")
    p.add_argument("--workers", type=bounded_int(0, MAX_WORKERS), default=0,
                   help=f"DataLoader worker processes, 0..{MAX_WORKERS} (default 0)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def run(args) -> int:
    out = check_output_file(args.out, "--out", overwrite=args.overwrite, suffixes=(".safetensors",))
    faceset = FaceSet(args.faceset)
    model = load_model(args.model, args.device)
    table = encode_faceset(model, faceset, attributes=args.attribute, batch_size=args.batch,
                           num_workers=args.workers, progress=True)
    table.save(out, overwrite=args.overwrite)
    print(f"wrote {len(table)} codes (D={table.latent_dim}, model {table.model_id}) with "
          f"{len(table.attribute_names)} attributes to {out}")
    return 0

