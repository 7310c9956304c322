"""compose.yaml (two mock replicas sharing one Redis): its structure, checked without docker
compose. Every SORA_MOCK_* value is read by the same code `serve` reads it with."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

import yaml

from mockserver import cli
from mockserver.settings import envconfig

ROOT = Path(__file__).resolve().parent.parent
# the keys of a compose service this file may use (the Compose specification's names)
SERVICE_KEYS = {
    "image", "command", "environment", "ports", "depends_on", "healthcheck", "restart",
    "stop_grace_period", "volumes",
}  # fmt: skip


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def mocks(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if "sora-mock" in s.get("image", "")}


def serve_args(environment: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sora-mock")
    serve = cli._serve_parser(parser.add_subparsers(dest="command"))
    assert envconfig.unknown(serve, environment) == [], "a variable no serve option reads"
    applied = envconfig.apply(serve, environment)
    return applied.finish(serve.parse_args([]))


def test_two_mock_replicas_share_one_redis_service() -> None:
    services = compose()["services"]
    replicas = mocks(services)
    assert len(replicas) == 2
    redis = [n for n, s in services.items() if s.get("image", "").startswith("redis:")]
    assert len(redis) == 1
    stores = set()
    for service in replicas.values():
        assert set(service) <= SERVICE_KEYS, set(service) - SERVICE_KEYS
        args = serve_args({k: str(v) for k, v in service["environment"].items()})
        assert args.store.startswith("redis://")
        host = args.store.removeprefix("redis://").split(":")[0]
        assert host == redis[0], "the store must be the compose file's Redis service"
        stores.add(args.store)
        assert service["depends_on"][redis[0]]["condition"] == "service_healthy"
    assert len(stores) == 1, "both replicas must use the same Redis database"
    assert "healthcheck" in services[redis[0]]


def test_each_replica_publishes_the_port_it_serves_on_and_they_differ() -> None:
    published = []
    for service in mocks(compose()["services"]).values():
        args = serve_args({k: str(v) for k, v in service["environment"].items()})
        # the image serves on 8000 unless SORA_MOCK_PORT says otherwise (Containerfile)
        port = args.port if "SORA_MOCK_PORT" in service["environment"] else 8000
        (mapping,) = service["ports"]
        host_port, container_port = str(mapping).rsplit(":", 1)[-2:]
        assert int(container_port) == port
        published.append(host_port)
    assert len(set(published)) == len(published)


def test_the_replicas_run_the_image_make_image_tags() -> None:
    containerfile = (ROOT / "Containerfile").read_text()
    assert "ENV" in containerfile and "SORA_MOCK_PORT=8000" in containerfile
    spec = importlib.util.spec_from_file_location("build_image", ROOT / "tools/build_image.py")
    assert spec is not None and spec.loader is not None
    build_image = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_image)
    for service in mocks(compose()["services"]).values():
        assert service["image"] == f"{build_image.DEFAULT_TAG}:latest"
