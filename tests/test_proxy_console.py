"""What ``sora-mock proxy`` says on its console, and how it stops: "no drift" for an exchange
its contract allows, "DRIFT: N differences from the contract" naming each, never a bare "ok"
beside a 400; and SIGTERM (a supervisor, a container stopping) is a clean stop, exit status 0."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from conformance_helpers import proxy_in_front, serving

from mockserver.http.app import create_app
from mockserver.testing import test_config


def _drifting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """gpt.ge's status read answered with a job that has no status at all."""
    body = {"id": "video_1", "object": "video", "state": "done"}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def test_a_clean_exchange_says_no_drift_even_when_it_is_a_4xx() -> None:
    console = io.StringIO()
    with serving(create_app(test_config())) as upstream:
        with proxy_in_front("gptge", upstream + "/gptge", out=console) as (base, _):
            answer = httpx.get(
                base + "/v1/videos/video_nope", headers={"Authorization": "Bearer k"}
            )
    assert answer.status_code == 404
    line = console.getvalue().strip().splitlines()[-1]
    assert line.endswith("-> 404 no drift"), line
    assert " ok" not in line


def test_drift_says_how_many_differences_and_names_them() -> None:
    console = io.StringIO()
    with serving(_drifting) as upstream:
        with proxy_in_front("gptge", upstream, out=console) as (base, _):
            httpx.get(base + "/v1/videos/video_1", headers={"Authorization": "Bearer k"})
    lines = console.getvalue().strip().splitlines()
    head = next(line for line in lines if "-> 200" in line)
    assert "DRIFT: " in head and "from the contract" in head, head
    count = int(head.split("DRIFT: ")[1].split()[0])
    assert count >= 1 and len([x for x in lines if x.startswith("    ")]) == count
    assert ("1 difference " in head) == (count == 1)


def test_sigterm_stops_the_proxy_cleanly() -> None:
    command = [sys.executable, "-m", "mockserver.cli", "proxy", "--provider", "gptge"]
    command += ["--upstream", "http://127.0.0.1:9", "--port", "0"]
    proxy = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    try:
        assert proxy.stdout is not None
        banner = proxy.stdout.readline()  # the server is listening once this is printed
        assert "sora-mock proxy" in banner, banner
        proxy.send_signal(signal.SIGTERM)
        assert proxy.wait(30) == 0
    finally:
        if proxy.poll() is None:
            proxy.kill()
            proxy.wait()
        if proxy.stdout is not None:
            proxy.stdout.close()
