"""Benchmarks: one module per ``latentedit bench <name>`` subcommand, each exposing
``add_arguments(parser)`` and ``run(args) -> int`` (dispatched by :mod:`latentedit.cli.bench`)."""
