"""Paths and small files under an output folder, local or gs://.

`join_path` and `temp_dir` name places; `valid_run_id` refuses a run id that
could name a file outside its folder; `json_text` and `write_json` write the
manifests and state files the same way everywhere (indented, sorted keys,
UTF-8); `ensure_parent` and `remove_tree` make and clear folders.
"""
from __future__ import annotations

import json
import logging
import os
import re

from apache_beam.io.filesystems import FileSystems


_log = logging.getLogger(__name__)


MAX_RUN_ID = 100
_RUN_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_RUN_ID - 1}}}")


def valid_run_id(run_id: str) -> str:
    """The run id, if it is safe in a file name (no ``:``, ``/``, spaces or a newline).

    Matched whole: ``re.match`` with ``$`` lets a trailing newline through.
    """
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} must be 1 to {MAX_RUN_ID} characters, letters, "
                         "digits, '_', '.' and '-', starting with a letter or digit")
    return run_id


def join_path(base: str, *parts: str) -> str:
    return FileSystems.join(base, *parts) if parts else base


def temp_dir(output: str, run_id: str) -> str:
    return join_path(output, "_tmp", run_id)


def ensure_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if "://" not in path and parent:
        os.makedirs(parent, exist_ok=True)


def json_text(payload: dict) -> str:
    """How newsbeam writes its JSON files (manifests, state, intents)."""
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False)


def write_json(path: str, payload: dict) -> None:
    ensure_parent(path)
    with FileSystems.create(path) as handle:
        handle.write(json_text(payload).encode("utf-8"))


def remove_tree(path: str) -> None:
    try:
        if "://" in path:  # an object store has no folders: delete what the prefix holds
            FileSystems.delete([path.rstrip("/") + "/"])
        elif FileSystems.exists(path):
            FileSystems.delete([path])
    except Exception as error:  # leftover temp files are harmless; say so
        _log.warning("could not remove %s: %s", path, error)


__all__ = ["MAX_RUN_ID", "valid_run_id", "join_path", "temp_dir", "ensure_parent", "json_text",
           "write_json", "remove_tree"]
