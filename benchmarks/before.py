"""A module as another git revision has it, for before/after figures in one run.

    step = before.module("main", "transforms/enrich/keyphrase_step.py")

The module's source is read with ``git show REF:PATH`` and executed as a new
module (registered in `sys.modules` under a ``before_`` name, so Beam can
pickle its DoFns); its own imports resolve against today's checkout, so it
measures one module's change, not the whole tree's. `checkout` writes a
whole revision into a folder instead (``git archive``), for a subprocess run
of that revision.
"""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def source(ref: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def module(ref: str, path: str) -> types.ModuleType:
    """`path` (a .py file of the repository) as revision `ref` has it."""
    name = "before_" + path[:-3].replace("/", "_")
    loaded = types.ModuleType(name)
    loaded.__file__ = f"{ref}:{path}"
    sys.modules[name] = loaded
    exec(compile(source(ref, path), loaded.__file__, "exec"), loaded.__dict__)
    return loaded


def checkout(ref: str, folder: Path) -> Path:
    """The tracked files of revision `ref`, written under `folder` (made if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(folder, filter="data")
    return folder
