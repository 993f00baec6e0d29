"""``latentedit app MODEL`` as a real process: it serves on 127.0.0.1 and answers a client."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import http.client
from pathlib import Path

import pytest

from tests.test_app_fixtures import make_tiny_model, sample_photo

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_the_app(tmp_path):
    from gradio_client import Client, handle_file

    model = make_tiny_model(tmp_path / "tiny")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "latentedit.cli.main", "app", str(model), "--port", str(port),
                             "--max-file-size", "5mb"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)   # loopback only
                conn.request("GET", "/")
                r = conn.getresponse()
                assert r.status == 200 and b"latentedit" in r.read()
                conn.close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{proc.communicate(timeout=10)[0]}")
                time.sleep(0.5)
        client = Client(url, verbose=False)
        _, picker, status, _, _ = client.predict(handle_file(str(sample_photo(tmp_path / "p.png"))), False,
                                                 api_name="/load_image")
        out, recipe, status = client.predict(face=picker["value"], smile=1.0, api_name="/apply")
        assert Path(out).is_file() and status.startswith("edited in")
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0]
    assert "3 attributes (eye_open, mouth_open, smile), decoders A, B" in output
    assert "Traceback" not in output
