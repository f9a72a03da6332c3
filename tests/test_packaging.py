"""What the Docker image runs, run in a fresh virtual environment from a built wheel.

No Docker engine is available here, so the test takes the Dockerfile's own install command
(``pip install ".[postgres]"``, as a wheel built from this tree) and its entrypoint, and runs them
in a new venv: the package data (migrations, templates, demo pages) must be in the wheel, and the
entrypoint must work against a real local site and a SQLite file on a "volume".
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.site import policy_page, serve

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_is_plain_and_runs_the_daemon_as_non_root() -> None:
    text = dockerfile()
    assert re.search(r"^FROM python:3\.1[1-9]-slim AS base$", text, re.M)
    assert text.rstrip().splitlines()[-1] == "FROM base AS main"  # the default target: no browser
    assert 'RUN pip install ".[postgres]"' in text
    assert re.search(r"^USER monitor$", text, re.M)
    assert 'ENTRYPOINT ["pledge-monitor"]' in text
    assert 'CMD ["run"]' in text
    assert 'VOLUME ["/data"]' in text
    assert "PLEDGE_MONITOR_DB=sqlite:////data/pledge-monitor.db" in text
    assert 'CMD ["pledge-monitor", "status", "--health"]' in text  # the HEALTHCHECK


def test_the_browser_variant_adds_debians_chromium_and_the_browser_extra() -> None:
    variant = dockerfile().split("FROM base AS browser", 1)[1].split("FROM base AS main", 1)[0]
    assert "apt-get install -y --no-install-recommends chromium" in variant
    assert 'RUN pip install ".[postgres,browser]"' in variant
    assert "ENV PLEDGE_MONITOR_CHROMIUM=/usr/bin/chromium" in variant
    instructions = [line for line in variant.splitlines() if line.strip() and not line.startswith("#")]
    assert instructions[-1] == "USER monitor"  # root only to install
    assert "playwright install" not in dockerfile()  # no browser build is downloaded


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with pledge-monitor installed from a wheel; dependencies borrowed read-only."""
    work = tmp_path_factory.mktemp("pkg")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work),
            str(ROOT),
        ],
        check=True,
        cwd=work,
        capture_output=True,
        text=True,
    )
    # `make demo` on a fresh clone shows what the build prints: it must print no warnings
    assert "Warning" not in built.stdout + built.stderr, built.stderr
    [wheel] = list(work.glob("pledge_monitor-*.whl"))
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    packages = next((env_dir / "lib").glob("python3.*/site-packages"))
    # dependencies come from the dev environment; the package itself only from the wheel
    (packages / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(packages)
        names = archive.namelist()
    assert any(n.startswith("monitor/migrations/versions/0001") for n in names), "migrations not in the wheel"
    assert any(n.startswith("monitor/templates/") for n in names), "templates not in the wheel"
    script = env_dir / "bin" / "pledge-monitor"
    script.write_text(f"#!{env_dir / 'bin' / 'python'}\nfrom monitor.cli import main\nmain()\n")
    script.chmod(0o755)
    return env_dir


def run(env_dir: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(env_dir / "bin" / "pledge-monitor"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_entrypoint_works_from_the_wheel(
    fresh_venv: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    site_ = serve(httpserver)
    site_.put("/letter", policy_page("<p>IBM no longer offers general purpose IBM facial recognition.</p>"))
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    data.mkdir()
    (config / "watchlist.yaml").write_text(
        f"sources:\n  - id: ibm-letter\n    url: {site_.url('/letter')}\n    select: '#policy'\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PLEDGE_MONITOR_DB": f"sqlite:///{data / 'pledge-monitor.db'}",
        "PLEDGE_MONITOR_WATCHLIST": str(config / "watchlist.yaml"),
        "HOME": str(tmp_path),
    }
    # the code comes from the fresh venv, not from the source tree
    where = run(fresh_venv, "--version", cwd=tmp_path, env=env)
    assert where.returncode == 0
    assert "pledge-monitor, version" in where.stdout
    probe = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", "import monitor; print(monitor.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert str(fresh_venv) in probe.stdout
    checked = run(fresh_venv, "check", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "(1 baseline)" in checked.stdout
    assert (data / "pledge-monitor.db").exists()
    health = run(fresh_venv, "status", "--health", cwd=tmp_path, env=env)
    assert health.returncode == 1
    assert "no scheduler has registered" in health.stderr
    validate = run(fresh_venv, "validate", str(ROOT / "watchlist.yaml"), cwd=tmp_path, env=env)
    assert validate.returncode == 0, validate.stderr


SHELL = (
    "<!doctype html><html><body><main id='app'>Loading</main><script>"
    "window.addEventListener('load', () => { document.getElementById('app').innerHTML ="
    ' \'<article id="policy"><p>IBM no longer offers general purpose IBM facial recognition.</p>'
    "<p>We believe now is the time to begin a national dialogue on whether and how facial"
    " recognition technology should be employed by domestic law enforcement agencies.</p>"
    "</article>'; });</script></body></html>"
)


@pytest.mark.browser
def test_the_browser_variant_checks_a_browser_source_from_the_wheel(
    fresh_venv: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """What the browser image runs: the wheel, the browser extra, PLEDGE_MONITOR_CHROMIUM set."""
    from tests import browser

    chromium = browser.chromium()
    site_ = serve(httpserver)
    site_.put("/letter", SHELL)
    (tmp_path / "watchlist.yaml").write_text(
        f"sources:\n  - id: ibm-letter\n    url: {site_.url('/letter')}\n    select: '#policy'\n"
        "    browser: true\n    screenshot: true\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PLEDGE_MONITOR_DB": f"sqlite:///{tmp_path / 'pledge-monitor.db'}",
        "PLEDGE_MONITOR_WATCHLIST": str(tmp_path / "watchlist.yaml"),
        "PLEDGE_MONITOR_CHROMIUM": chromium,
        "HOME": str(tmp_path),
    }
    checked = run(fresh_venv, "check", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "(1 baseline)" in checked.stdout, checked.stdout
    tried = run(fresh_venv, "try", "ibm-letter", cwd=tmp_path, env=env)
    assert tried.returncode == 0, tried.stdout + tried.stderr
    assert "rendered in Chromium" in tried.stdout
    assert "  | IBM no longer offers general purpose IBM facial recognition." in tried.stdout
