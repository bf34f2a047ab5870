"""Reading what a report is made of: run manifests, feed state, Parquet columns.

Everything goes through Beam's `FileSystems`, so an output folder on
``gs://`` reads the same as a local one. Parquet is read column by column
with pyarrow (never the article bodies): the report needs a few small
columns of the last runs' files, which the manifests list.
"""
from __future__ import annotations

import json
import logging
from typing import Dict, List, Optional, Sequence

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.io.filesystems import CompressionTypes, FileSystems

from schemas.tables import TABLES
from transforms.extract.dates import parse_timestamp
from transforms.core.paths import join_path, valid_run_id

_log = logging.getLogger(__name__)


def list_manifests(output: str) -> List[dict]:
    """Every readable run manifest under ``_runs/``, oldest first.

    A manifest that cannot be read, or whose run id is not one newsbeam
    gives (a hand-edited or hostile file), is left out with a warning: one
    broken file should not hide the other runs.
    """
    pattern = join_path(output, "_runs", "*.json")
    manifests = []
    for result in FileSystems.match([pattern]):
        for meta in result.metadata_list:
            try:
                with FileSystems.open(meta.path,
                                      compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                    manifest = json.loads(handle.read().decode("utf-8"))
                if not isinstance(manifest, dict) or not isinstance(manifest.get("run_id"), str):
                    raise ValueError("not a run manifest")
                # The run id names the report's file and globs the run's files.
                valid_run_id(manifest["run_id"])
            except (OSError, ValueError) as error:
                _log.warning("skipping the run manifest %s: %s", meta.path, error)
                continue
            manifests.append(manifest)
    return sorted(manifests, key=lambda m: (parse_timestamp(m.get("started_at")) or 0,
                                            m["run_id"]))


def load_feed_state(output: str) -> Dict[str, dict]:
    """``_state/feeds.json`` as plain dicts by feed URL ({} when there is none)."""
    path = join_path(output, "_state", "feeds.json")
    if not FileSystems.exists(path):
        return {}
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return dict(json.loads(handle.read().decode("utf-8")).get("feeds") or {})
    except (OSError, ValueError, AttributeError) as error:
        _log.warning("cannot read the feed state %s: %s", path, error)
        return {}


def run_files(output: str, manifest: dict, table: str) -> List[str]:
    """The Parquet files of one table that a run committed, under `output`.

    The manifest holds the paths as the run saw them; they are re-rooted
    under `output` (by the part after the table's folder), so a folder
    that was moved or named relatively reads the same. When the manifest has
    no file list, the run's files are matched by name.
    """
    folder = TABLES[table].folder
    listed = (manifest.get("files") or {}).get(table)
    if listed is None:
        spec = TABLES[table]
        pattern = join_path(output, folder, *(["*"] * len(spec.partition_keys)),
                            f"part-{manifest['run_id']}-*.parquet")
        return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    paths = []
    marker = f"/{folder}/"
    for path in listed:
        if marker in path:
            paths.append(join_path(output, folder, path.split(marker, 1)[1]))
        elif path.startswith(f"{folder}/"):
            paths.append(join_path(output, path))
    return paths


def read_columns(paths: Sequence[str], table: str, columns: Sequence[str]) -> pa.Table:
    """The given columns of a table's files, as one Arrow table.

    Local files are read as one pyarrow dataset (threaded, only the column
    chunks asked for); other file systems file by file through Beam's
    `FileSystems`, which pyarrow reads by ranges. Files that have gone
    missing since their run are skipped with a warning.
    """
    schema = pa.schema([TABLES[table].schema.field(c) for c in columns])
    local = [p for p in paths if "://" not in p]
    remote = [p for p in paths if "://" in p]
    parts: List[pa.Table] = []
    existing = [p for p in local if FileSystems.exists(p)]
    if len(existing) < len(local):
        _log.warning("%d %s files listed in manifests are missing", len(local) - len(existing),
                     table)
    if existing:
        parts.append(ds.dataset(existing, format="parquet", schema=schema)
                     .to_table(columns=list(columns)))
    for path in remote:
        parts.append(_read_remote(path, schema))
    parts = [p for p in parts if p is not None]
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts)


def _read_remote(path: str, schema: pa.Schema) -> Optional[pa.Table]:
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return pq.read_table(handle, columns=schema.names, schema=schema)
    except (OSError, IOError) as error:
        _log.warning("skipping %s: %s", path, error)
        return None


def write_text(path: str, text: str) -> None:
    """Writes the report (local or gs://), creating a local parent folder."""
    if "://" not in path:
        import os
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
    with FileSystems.create(path, mime_type="text/html",
                            compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        handle.write(text.encode("utf-8"))
