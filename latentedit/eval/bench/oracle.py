"""``latentedit bench oracle --out DIR``: train the SynthFaces attribute oracle and print its held-out accuracy.

The oracle (:mod:`latentedit.eval.oracle`) is the model-independent judge of ``latentedit report`` and
``latentedit bench quality``. The shipped one was trained with the command in its model card
(``latentedit/pretrained/oracle/README.md``); re-training into that folder keeps it loadable (its
``MANIFEST.sha256`` is rewritten) and needs ``--overwrite``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..._io import atomic_write_text
from ...manifest import verify_manifest, write_manifest
from ..oracle_train import heldout_table, model_card, train_oracle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the trainer's options."""
    parser.add_argument("--out", required=True, help="folder to write config.json + model.safetensors + README.md into")
    parser.add_argument("--n-images", type=int, default=8000, help="training renders (default 8000)")
    parser.add_argument("--size", type=int, default=64, help="resolution, a multiple of 16 (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="render and initialisation seed (default 0)")
    parser.add_argument("--steps", type=int, default=3000, help="optimisation steps (default 3000)")
    parser.add_argument("--batch-size", type=int, default=128, help="renders per step (default 128)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 0.002)")
    parser.add_argument("--n-heldout", type=int, default=1000, help="held-out renders scored (default 1000)")
    parser.add_argument("--max-cpu-minutes", type=float, default=None,
                        help="budget of the optimisation in CPU minutes of this process (the schedule adapts)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: on a shared, busy "
                        "CPU 2 threads were measured 50× slower per step than 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing oracle in --out")
    parser.add_argument("--init", default=None, help="continue training this oracle folder (use a new --seed)")


def run(args: argparse.Namespace) -> int:
    """Train and save the oracle with its model card, print its held-out table. Returns 0.

    Raises:
        LatentEditError: ``--out`` already holds an oracle (without ``--overwrite``), a bad size, an
            ``--init`` folder that does not match, or a manifested ``--out`` that fails its check.
    """
    # torch (through the oracle) only now: `latentedit --help` builds this parser without it.

    torch.set_num_threads(args.threads)
    manifested = verify_manifest(args.out)  # re-trained into a manifested folder: keep it loadable
    oracle = train_oracle(args.out, args.n_images, args.size, args.seed, args.steps, args.batch_size,
                          lr=args.lr, n_heldout=args.n_heldout, max_cpu_minutes=args.max_cpu_minutes,
                          overwrite=args.overwrite, init=args.init)
    atomic_write_text(Path(args.out) / "README.md", model_card(oracle))
    if manifested:
        write_manifest(args.out)
    print(heldout_table(oracle))
    print(f"saved to {args.out}")
    return 0
