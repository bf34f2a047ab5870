"""What the Dataflow dry-run tests share: their inputs on the GCS emulator,
a listing of what landed there, and the worker environment of the built job."""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, List

from apache_beam.portability.api import beam_runner_api_pb2

from tests.conftest import SEEDS

FEED_LIST = "https://feeds.example.org/world.xml | World | en\n"


def upload_inputs(gcs, tmp_path: Path, bucket: str, folder: str) -> str:
    """The seed dump under gs://bucket/folder/ and a one-feed list; returns the list's URL."""
    gcs.upload(SEEDS / "rt-arabic-dump.txt", bucket, folder, "rt-arabic-dump.txt")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(FEED_LIST)
    return gcs.upload(feeds, bucket, "feeds.txt")


def gcs_keys(gcs, prefix: str) -> List[str]:
    """Every object under bucket/prefix on the emulator."""
    from pyarrow import fs
    selector = fs.FileSelector(f"{gcs.bucket}/{prefix}", recursive=True, allow_not_found=True)
    return [info.path for info in gcs.arrow_fs().get_file_info(selector)]


def staged_artifacts(proto) -> Dict[str, str]:
    """Staged name -> path of the job's one environment, after checking that it is
    Beam's SDK container of this Python and of the Beam the launcher runs."""
    (environment,) = proto.components.environments.values()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    image = f"beam_python{python}_sdk:{metadata.version('apache-beam')}"
    assert image.encode() in environment.payload
    staged = {}
    for dependency in environment.dependencies:
        role = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(
            dependency.role_payload)
        staged[role.staged_name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(
            dependency.type_payload).path
    return staged
