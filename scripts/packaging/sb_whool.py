"""PEP 517 build backend: whool, fed with the addon's own files only.

The repository root is the addon, but it also holds developer tools (``benchmarks/``, ``scripts/``,
``.ci/``, the pure-Python tests of ``billing_core/``) and may be checked out under any folder name,
whereas whool names the distribution after the folder and packs every file under git control. This
backend copies the addon's files into a temporary folder named ``subscription_billing`` and lets whool
build the sdist or wheel there, so ``pip install .`` and ``python -m build`` give
``odoo-addon-subscription_billing`` from any checkout. The version is the manifest's
(``[tool.whool] post_version_strategy_override = "none"`` in ``pyproject.toml``).
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from whool import buildapi as whool

ADDON = "subscription_billing"
ROOT = Path(__file__).resolve().parents[2]
#: developer tools, not part of the addon (folders end with "/")
EXCLUDED = (
    ".ci/",
    ".github/",
    "benchmarks/",
    "billing_core/tests/",
    "scripts/",
    ".gitignore",
    ".pre-commit-config.yaml",
    "requirements.txt",
    "requirements-test.txt",
    "ruff.toml",
)
#: what an sdist needs besides the addon to build its wheel again: this backend
BACKEND = "scripts/packaging/sb_whool.py"


def _is_excluded(path):
    return any(path == item or (item.endswith("/") and path.startswith(item)) for item in EXCLUDED)


def _source_files():
    """Files of the checkout under git control; every file when building from an unpacked sdist."""
    try:
        out = subprocess.check_output(["git", "ls-files", "-z"], cwd=ROOT, stderr=subprocess.DEVNULL)
        files = [name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [
            path.relative_to(ROOT).as_posix()
            for path in ROOT.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts
        ]
    return [name for name in files if (ROOT / name).is_file()]


def _stage(tmpdir, with_backend=False):
    """A folder named after the addon with its files (and pyproject.toml, PKG-INFO) only."""
    staged = Path(tmpdir) / ADDON
    staged.mkdir()
    for name in _source_files():
        if _is_excluded(name) and not (with_backend and name == BACKEND):
            continue
        target = staged / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return staged


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with tempfile.TemporaryDirectory() as tmpdir:
        return whool._build_wheel(_stage(tmpdir), Path(wheel_directory), editable=False)


def build_sdist(sdist_directory, config_settings=None):
    with tempfile.TemporaryDirectory() as tmpdir:
        return whool._build_sdist(_stage(tmpdir, with_backend=True), Path(sdist_directory))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    if ROOT.name != ADDON:
        raise RuntimeError(
            f"an editable install links the checkout itself: name its folder {ADDON!r} (it is {ROOT.name!r}), "
            "or install it normally (pip install .)"
        )
    return whool.build_editable(wheel_directory, config_settings, metadata_directory)
