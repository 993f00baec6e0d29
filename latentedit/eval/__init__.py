"""Evaluation, kept apart from the product (as stylegan3 keeps ``metrics/`` beside its library).

Everything here measures models without being part of them:

* :mod:`latentedit.eval.metrics` — PSNR, SSIM, LPIPS distance, summaries, dlib face measures;
* :mod:`latentedit.eval.oracle` — the SynthFaces attribute oracle (a CNN judge) and its trainer;
* :mod:`latentedit.eval.report` — the edit report engine (``latentedit report``, the app's Report tab);
* :mod:`latentedit.eval.bench` — the benchmarks, one module per ``latentedit bench <name>``.

The dependency runs one way: ``eval`` imports the product; no product module imports ``eval``
(the import-linter contract in ``pyproject.toml``, checked by ``tests/test_layers.py``). Only the
command-line hooks in :mod:`latentedit.cli` reach it, and the app receives the report engine from
its caller (``build_app(editor, report=...)``).
"""
