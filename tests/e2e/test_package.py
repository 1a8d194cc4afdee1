"""The release shape: `python -m build` makes an sdist and a wheel; the wheel installed into a
fresh virtual environment outside the checkout runs `gateway demo` to a verified end (sample
config, templates, locales and carrier sandboxes all inside the package) and `gateway init`."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run(*argv: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH, so nothing of the checkout is importable: only what the wheel installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd,  # noqa: S603 - the test's own commands
                            env=env, timeout=timeout, check=False)
    assert result.returncode == 0, f"{argv}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout, with the wheel and its dependencies; its bin/."""
    where = tmp_path_factory.mktemp("venv")
    venv.create(where, with_pip=True)
    (wheel,) = dist.glob("*.whl")
    _run(where / "bin/python", "-m", "pip", "install", "--quiet", wheel, cwd=where)
    return where / "bin"


def test_the_build_makes_a_wheel_and_an_sdist_with_the_data_files(dist: Path) -> None:
    (wheel,) = dist.glob("disclosure_gateway-*-py3-none-any.whl")
    (sdist,) = dist.glob("disclosure_gateway-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("gateway/sample/config.toml", "gateway/http/pages/templates/base.html",
                 "gateway/review/locales/fi.toml", "carriers/sandbox/__init__.py"):
        assert data in names
    with tarfile.open(sdist) as tar:
        members = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"pyproject.toml", "gateway/sample/config.toml",
            "gateway/review/locales/sv.toml"} <= members


def test_the_installed_demo_runs_to_a_verified_end(installed: Path, tmp_path: Path) -> None:
    ran = _run(installed / "gateway", "demo", cwd=tmp_path)
    assert "bundled sample configuration" in ran.stdout
    assert "\nverify: OK:" in ran.stdout
    assert "receipt var/demo/receipt.tlog-proof (customer C-1, position 1): OK" in ran.stdout
    # The package came from the venv, not the checkout.
    where = _run(installed / "python", "-c", "import gateway; print(gateway.__file__)",
                 cwd=tmp_path).stdout
    assert where.startswith(str(installed.parent)), where


def test_the_installed_init_makes_a_deployment_the_demo_runs_on(installed: Path,
                                                                tmp_path: Path) -> None:
    ran = _run(installed / "gateway", "init", "deploy", cwd=tmp_path)
    assert "wrote deploy/config.toml" in ran.stdout
    assert "cd deploy && gateway demo" in ran.stdout
    demo = _run(installed / "gateway", "demo", cwd=tmp_path / "deploy")
    assert "bundled sample" not in demo.stdout  # it ran on the config init wrote
    assert "\nverify: OK:" in demo.stdout
