"""``python -m mockserver.http.healthcheck``: the container image's health check. Asks the served
mock's ``GET /__mock/health`` on loopback (the port from ``$SORA_MOCK_PORT``, else 8000): exit
0 when it answers 200, else 1 with one line saying why (a health check's log shows it)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def check(port: int, timeout: float = 4.0) -> str | None:
    """None when the mock on ``port`` is healthy, else why not."""
    url = f"http://127.0.0.1:{port}/__mock/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback
            return None if answer.status == 200 else f"{url} answered {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}: {exc.read(300).decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{url} does not answer: {reason}"


def main() -> int:
    text = os.environ.get("SORA_MOCK_PORT", "8000")
    try:
        port = int(text)
    except ValueError:
        print(f"healthcheck: SORA_MOCK_PORT={text!r} is not a port", file=sys.stderr)
        return 1
    problem = check(port)
    if problem is not None:
        print(f"healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
