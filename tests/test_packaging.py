"""A real install: the wheel holds the library, the app's parts and the app itself, and `transferlab app` serves the
installed app (its settings and password gate as from the checkout) from a fresh environment, away from the
checkout. The wheel is built from a copy of the sources and installed without dependencies into a new virtual
environment that sees this one's packages through a .pth line (so torch and streamlit are not installed again)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a build needs from the checkout (the wheel's sources and the files pyproject.toml names).
SOURCES = ["pyproject.toml", "README.md", "app.py", "app_pages", ".streamlit", "tlcore", "tlui", "transferlab"]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_in_pyproject():
    """pyproject.toml lists its packages (the app is mapped in from the root): a new folder must be added there."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for top in ("tlcore", "tlui", "transferlab")
             for path in (ROOT / top).rglob("*.py") if "__pycache__" not in path.parts}
    assert found - listed == set()
    assert {"transferlab.app", "transferlab.app.app_pages"} <= listed


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel built from a copy of the sources, installed into a new venv; {"python", "bin", "wheel", "cwd"}."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (ROOT / name).is_dir() else {}))
    (source / ".streamlit" / "secrets.toml").write_text('[transferlab]\npassword = "never shipped"\n')
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(work / "dist"),
                    str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((work / "dist").glob("tlcore-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # pip of this environment installs into the new one (--python); before the .pth line, so that it sees no
    # other tlcore there.
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A plain path line: the folder joins sys.path after the venv's own, and its .pth files (this environment's
    # editable tlcore) are not run.
    Path(site, "zz_test_dependencies.pth").write_text(deps + "\n")
    cwd = work / "elsewhere"  # not the checkout: nothing may come from it
    cwd.mkdir()
    return {"python": python, "bin": python.parent, "wheel": wheel, "cwd": cwd, "venv": venv, "site": Path(site)}


def _clean_env(**extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


def test_the_wheel_holds_library_app_and_parts_and_runs_from_its_own_venv(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert {"transferlab/app/app.py", "transferlab/app/.streamlit/config.toml", "transferlab/app/app_pages/Home.py",
            "tlui/auth.py", "tlcore/cli/main.py", "tlcore/data/bundled/sms_spam_sample.csv"} <= names
    assert not [name for name in names if "secrets" in name or name.startswith(("tests/", "runs/"))]

    code = ("import json, tlcore, tlui, transferlab; print(json.dumps({'files': [tlcore.__file__, tlui.__file__, "
            "transferlab.__file__], 'app': str(transferlab.app_dir())}))")
    shown = subprocess.run([str(installed["python"]), "-c", code], cwd=installed["cwd"], env=_clean_env(),
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-3000:]
    paths = json.loads(shown.stdout.strip().splitlines()[-1])
    venv = installed["venv"].resolve()
    for path in [*paths["files"], paths["app"]]:
        assert Path(path).resolve().is_relative_to(venv), path
    # `transferlab` passes other commands to tlcore.
    models = subprocess.run([str(installed["bin"] / "transferlab"), "models", "--json"], cwd=installed["cwd"],
                            env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert models.returncode == 0, models.stderr[-3000:]
    assert "minilm" in {model["name"] for model in json.loads(models.stdout)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode("utf-8", "replace")


@pytest.mark.browser  # the HTTP checks run without Chromium too
def test_transferlab_app_serves_the_installed_app_with_its_settings_and_password_gate(installed, chromium):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(installed["cwd"] / "app.log", "wb")
    env = _clean_env(TRANSFERLAB_PASSWORD="s3cret", TLCORE_RUNS_DIR=str(installed["cwd"] / "runs"))
    server = subprocess.Popen(
        [str(installed["bin"] / "transferlab"), "app", "--port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=installed["cwd"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (installed["cwd"] / "app.log").read_text()[-3000:]
            try:
                if _get(f"{url}/_stcore/health").strip() == "ok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the app did not answer within 90 s"
            time.sleep(0.5)
        assert 'id="root"' in _get(url)  # Streamlit's page shell, which then loads the app over a websocket
        _check_in_browser(url, installed, chromium)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _check_in_browser(url: str, installed: dict, chromium: str) -> None:
    """The page is the app's (title, password gate) in the colours of the installed .streamlit/config.toml."""
    if not Path(chromium).exists():
        return  # the HTTP checks above stand alone where there is no Chromium
    sync_api = pytest.importorskip("playwright.sync_api")
    tomllib = pytest.importorskip("tomllib")
    config = installed["site"] / "transferlab" / "app" / ".streamlit" / "config.toml"
    theme = tomllib.loads(config.read_text(encoding="utf-8"))["theme"]
    primary = theme.get("light", theme)["primaryColor"].lstrip("#")
    expected = "rgb({}, {}, {})".format(*(int(primary[i:i + 2], 16) for i in (0, 2, 4)))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(color_scheme="light")
            page.goto(url)
            sync_api.expect(page.get_by_text("Password", exact=True)).to_be_visible(timeout=60_000)
            assert page.title() == "TransferLab"
            colour = page.get_by_role("button", name="Sign in").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == expected  # the installed config's theme (Streamlit's own primary is red)
        finally:
            browser.close()
