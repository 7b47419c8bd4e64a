"""The deployment kit: files parse, every setting is documented, and the image's own build
and start commands work when run here, outside Docker."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import pytest
import yaml

from quotebot.cli import main

from conftest import ROOT, quotes_the_stabbings, requires, run_cli
from fake_bot_api import free_port
from servers import START_SECONDS, stop, wait_http

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
ENV_EXAMPLE = (DEPLOY / "quotebot.env.example").read_text(encoding="utf-8")


def documented_variables() -> set[str]:
    """Variables the example sets or shows commented out (``#QUOTEBOT_INDEX=…``)."""
    return set(re.findall(r"^#?([A-Z_]+)=", ENV_EXAMPLE, flags=re.M))


def test_the_env_example_never_overrides_what_the_image_or_the_unit_set() -> None:
    """Catches an empty ``QUOTEBOT_INDEX=`` in the env file: systemd's EnvironmentFile= and
    compose's env_file override the unit's Environment= and the image's ENV, so the service
    would silently build an index of the shipped article instead of serving its own. A
    variable set in both places must have the same value there, unless the command line
    gives it as a flag (which wins over both)."""
    here = dict(re.findall(r"^([A-Z_]+)=(.*)$", ENV_EXAMPLE, flags=re.M))
    unit = (DEPLOY / "quotebot.service").read_text(encoding="utf-8")
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    by_unit = dict(re.findall(r"^Environment=([A-Z_]+)=(\S*)", unit, flags=re.M))
    by_image = dict(re.findall(r"\b(QUOTEBOT_[A-Z_]+)=(\S*)", dockerfile.split("\nENV", 1)[1]))
    assert {"QUOTEBOT_INDEX", "QUOTEBOT_DATA_DIR"} <= by_unit.keys() & by_image.keys()
    flags = " ".join(re.findall(r"^(?:CMD|ExecStart).*$", dockerfile + "\n" + unit, flags=re.M))
    for name, value in [*by_unit.items(), *by_image.items()]:
        option = "--" + name.removeprefix("QUOTEBOT_").lower().replace("_", "-")
        if name in here and option not in flags:
            assert here[name] == value, f"{name}={here[name]} in the env example overrides {value}"


def test_compose_runs_quotebot_with_redis_and_health_checks() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"quotebot", "redis"}
    bot = services["quotebot"]
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert bot["env_file"] == "quotebot.env"
    assert bot["environment"]["QUOTEBOT_REDIS_URL"].startswith("redis://redis:")
    assert all(port.startswith("127.0.0.1:") for port in bot["ports"])
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"


def test_every_setting_the_commands_read_is_documented_in_the_env_example() -> None:
    used: set[str] = set()
    for command in main.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar:
                used.add(str(param.envvar))
    for param in main.params:
        if isinstance(param, click.Option) and param.envvar:
            used.add(str(param.envvar))
    used |= set(re.findall(r"\b(QUOTEBOT_[A-Z_]+|TELEGRAM_[A-Z_]+)\b", DOCKERFILE))
    compose = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    used |= set(re.findall(r"\b(QUOTEBOT_[A-Z_]+|TELEGRAM_[A-Z_]+)\b", compose))
    missing = used - documented_variables()
    assert not missing, f"undocumented in deploy/quotebot.env.example: {sorted(missing)}"
    assert {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
            "QUOTEBOT_REDIS_URL", "QUOTEBOT_CORPUS", "QUOTEBOT_LOG_LEVEL"} <= used


@requires("systemd-analyze")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (DEPLOY / "quotebot.service").read_text(encoding="utf-8")
    for setting in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "Restart=on-failure", "EnvironmentFile=/etc/quotebot/quotebot.env"):
        assert setting in unit
    # verify checks that the programs exist; the venv lives at /opt/quotebot only once
    # installed, so point the copy at a program this machine has.
    copy = tmp_path / "quotebot.service"
    copy.write_text(unit.replace("/opt/quotebot/bin/quotebot", shutil.which("true") or "/bin/true"),
                    encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if "quotebot.service" in line]
    assert problems == []


def dockerfile_command(kind: str) -> list[str]:
    """The image's RUN quotebot … or CMD, as an argument list."""
    if kind == "CMD":
        return list(json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.M).group(1)))  # type: ignore[union-attr]
    line = re.search(r"^RUN (quotebot index [^&\n]*)", DOCKERFILE, flags=re.M).group(1)  # type: ignore[union-attr]
    return shlex.split(line)


def test_the_images_build_and_start_commands_work_here(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ROOT / "index" / "met-police-nypd-visit.txt", corpus)
    build = dockerfile_command("RUN")
    assert build[:2] == ["quotebot", "index"]
    args = [a.replace("/app/corpus", str(corpus)).replace("/app/var/index",
                                                          str(tmp_path / "index"))
            for a in build[2:]]
    built = run_cli("index", *args)
    assert built.returncode == 0, built.stderr
    start = dockerfile_command("CMD")
    assert start[:2] == ["quotebot", "serve"]
    port = free_port()
    args = list(start[2:])
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    env = dict(os.environ, QUOTEBOT_INDEX=str(tmp_path / "index"))
    proc = subprocess.Popen([sys.executable, "-m", "quotebot", "serve", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", START_SECONDS, proc)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/ask", data=b'{"question": "how many stabbings?"}',
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert quotes_the_stabbings(json.loads(response.read()))
    finally:
        assert stop(proc) == 0


def test_the_dockerfile_runs_as_a_user_with_a_health_check() -> None:
    assert re.search(r"^USER quotebot$", DOCKERFILE, flags=re.M)
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE
    assert re.search(r"^FROM python:3\.11-slim$", DOCKERFILE, flags=re.M)


def test_the_webhook_script_never_puts_the_token_on_a_command_line() -> None:
    script = (DEPLOY / "set-webhook.sh").read_text(encoding="utf-8")
    assert "$TELEGRAM_BOT_TOKEN" not in script.replace(":?", "")
    assert "quotebot telegram --set-webhook" in script
