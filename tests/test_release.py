"""The wheel, built from a clean export of the repository (`git archive HEAD`, no compiled
catalogs), carries every catalog and the example config, and the installed `dialogbot demo`
runs from another directory."""

from __future__ import annotations

import gettext
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.harness import ROOT

# name==version (; marker), then at least one "--hash=sha256:..." on its continuation lines
PINNED_WITH_HASH = r"^([A-Za-z0-9._-]+)==([^\s;]+)[^\\\n]*(?:\\\n\s+--hash=sha256:[0-9a-f]{64}\s*)+"

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("release")
    archive = base / "source.tar"
    run("git", "archive", "--format=tar", "-o", archive, "HEAD", cwd=ROOT)
    source = base / "source"
    source.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    assert not list(source.glob("bot/locales/*/LC_MESSAGES/*.mo"))  # a clean checkout
    out = base / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        out,
        source,
        cwd=base,
    )
    (built,) = out.glob("dialogbot-*.whl")
    return built


def test_the_wheel_carries_every_catalog_and_the_example_config(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    catalogs = sorted((ROOT / "bot" / "locales").glob("*/LC_MESSAGES/messages.po"))
    assert len(catalogs) == 4
    for po in catalogs:
        mo = po.relative_to(ROOT).with_suffix(".mo").as_posix()
        assert mo in names, f"{mo} missing from the wheel"
        with archive.open(mo) as compiled:
            translations = gettext.GNUTranslations(compiled)
        # A compiled catalog: the citizens' menu entry in that language.
        english = {"en": "Take part or see your choice"}
        if po.parent.parent.name in english:
            said = translations.gettext("Mitmachen oder Ihre Wahl ansehen")
            assert said == english[po.parent.parent.name]
        assert translations.info().get("content-type", "").endswith("utf-8")
    assert "bot/app/config.example.toml" in names
    assert "storage/migrations/versions/0001_initial_schema.py" in names
    assert "storage/migrations/env.py" in names
    # The web chat's script, style and icon (bot/web/static/): served from the package.
    for asset in ("chat.js", "chat.css", "icon.svg"):
        assert f"bot/web/static/{asset}" in names


def test_the_installed_demo_runs_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # The project's installed dependencies, seen after the venv's own packages (a plain path,
    # so the editable install of the source tree in them is not loaded).
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    (site / "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=tmp_path,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALOGBOT_", "PYTHON"))}
    where = run(python, "-c", "import bot; print(bot.__file__)", cwd=elsewhere, env=env)
    assert where.startswith(str(site)), where
    out = run(venv / "bin" / "dialogbot", "demo", "--citizens", "3", cwd=elsewhere, env=env)
    assert (elsewhere / "demo-output").is_dir(), out
    # doctor reads the shipped example too: it runs its checks (and fails the example secret).
    doctor = subprocess.run(
        [str(venv / "bin" / "dialogbot"), "doctor", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert doctor.returncode == 1, doctor.stderr
    checks = {c["name"]: c["ok"] for c in json.loads(doctor.stdout)["checks"]}
    assert checks["secret"] is False and checks["digest schedule"] is True


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    """requirements.lock (make lock) covers pyproject.toml: each dependency, the dev extras
    included, at one exact version with hashes."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    text = (ROOT / "requirements.lock").read_text()
    pinned = {
        canonicalize_name(m.group(1)): m.group(2) for m in re.finditer(PINNED_WITH_HASH, text, re.M)
    }
    for requirement in map(Requirement, declared):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements.lock pins {name}=={pinned[name]}, pyproject.toml wants {requirement}"
        )
