"""Exclusive and conditional writes: what Beam's FileSystems cannot do.

Locally by a hard link (which fails if the name exists) and an atomic rename; on GCS by the object
generation (if-generation-match preconditions), so two runs never both
believe they hold the lease.
"""
from __future__ import annotations

import os
import uuid
from typing import Dict, Optional, Tuple


class LeaseHeld(RuntimeError):
    """Another run holds the output's lease; the message names it."""


def is_gcs(path: str) -> bool:
    return path.startswith("gs://")


# --- exclusive and conditional writes: what Beam's FileSystems cannot do ---

_CLIENTS: Dict[Optional[str], object] = {}


def _gcs_blob(path: str):
    # One client per endpoint: a client keeps the emulator it was made for.
    endpoint = os.environ.get("STORAGE_EMULATOR_HOST")
    if endpoint not in _CLIENTS:
        from google.cloud import storage
        _CLIENTS[endpoint] = storage.Client()
    bucket, _, name = path[len("gs://"):].partition("/")
    return _CLIENTS[endpoint].bucket(bucket).blob(name)


def read_with_generation(path: str) -> Tuple[Optional[bytes], Optional[object]]:
    """The file's bytes and what identifies this version of it (None, None: no file)."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        blob = _gcs_blob(path)
        for _ in range(5):
            try:
                blob.reload()
                return blob.download_as_bytes(if_generation_match=blob.generation), \
                    blob.generation
            except NotFound:
                return None, None
            except PreconditionFailed:
                continue  # rewritten between the two calls
        raise LeaseHeld(f"{path} keeps changing")
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return None, None


def create_exclusive(path: str, data: bytes) -> bool:
    """Creates `path` holding `data` whole, unless it exists; whether it was created."""
    if is_gcs(path):
        from google.api_core.exceptions import PreconditionFailed
        try:
            _gcs_blob(path).upload_from_string(data, if_generation_match=0)
            return True
        except PreconditionFailed:
            return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{path}.{uuid.uuid4().hex}"
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temp, path)  # atomic, fails if the name exists: the file appears whole
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)


def replace_if_unchanged(path: str, data: bytes, generation) -> bool:
    """Rewrites `path` if it is still the version `generation`; whether it was."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        try:
            _gcs_blob(path).upload_from_string(data, if_generation_match=generation)
            return True
        except (PreconditionFailed, NotFound):
            return False
    current, inode = read_with_generation(path)
    if current is None or inode != generation:
        return False
    temp = f"{path}.{uuid.uuid4().hex}"
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)
    return True


def delete_if_unchanged(path: str, generation) -> bool:
    """Deletes `path` if it is still the version `generation` (taking over a dead lease)."""
    if is_gcs(path):
        from google.api_core.exceptions import NotFound, PreconditionFailed
        try:
            _gcs_blob(path).delete(if_generation_match=generation)
            return True
        except (PreconditionFailed, NotFound):
            return False
    aside = f"{path}.expired-{uuid.uuid4().hex}"
    try:
        os.rename(path, aside)  # one taker wins the rename
    except FileNotFoundError:
        return False
    if os.stat(aside).st_ino == generation:
        os.unlink(aside)
        return True
    try:  # moved a fresh lease by mistake: put it back unless a newer one is there
        os.link(aside, path)
    except FileExistsError:
        pass
    os.unlink(aside)
    return False


__all__ = ["LeaseHeld", "is_gcs", "create_exclusive", "read_with_generation",
           "replace_if_unchanged", "delete_if_unchanged"]
