"""A real GCS API on 127.0.0.1 for the gs:// tests: gcp-storage-emulator.

The emulator runs in its own process (in memory, one bucket), so the
pipeline's SDK worker processes reach it too. Clients find it through
``STORAGE_EMULATOR_HOST``, which google-cloud-storage (and so Beam's gs://
file system) honours.

Credentials: Beam's GCS client asks google-auth for Application Default
Credentials; with none on the machine it retries for 20-30 s per process
before going on anonymously. ``GOOGLE_APPLICATION_CREDENTIALS`` pointing at
an ``authorized_user`` file whose access token is already there and expires
in the far future makes that lookup instant and sends no request for a
token (the emulator accepts any token). It is an environment variable, so it
reaches every worker process; pyarrow reads the same emulator anonymously.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest

BUCKET = "newsbeam-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offline_credentials(folder: Path) -> Path:
    """An ADC file that google-auth accepts without asking any server for a token."""
    path = folder / "emulator-adc.json"
    path.write_text(json.dumps({
        "type": "authorized_user", "client_id": "emulator", "client_secret": "emulator",
        "refresh_token": "emulator", "token": "emulator", "expiry": "2999-01-01T00:00:00Z"}))
    return path


class GcsEmulator:
    """gcp-storage-emulator in a child process, on a free port of 127.0.0.1."""

    def __init__(self, folder: Path, bucket: str = BUCKET):
        self.bucket = bucket
        self.port = _free_port()
        self.credentials = offline_credentials(folder)
        self._process = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> Dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": f"http://{self.host}",
                "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials),
                "GOOGLE_CLOUD_PROJECT": "newsbeam-test"}

    def start(self) -> "GcsEmulator":
        self._process = subprocess.Popen(
            # The emulator with GCS's ifGenerationMatch checks (see that script).
            [sys.executable, str(Path(__file__).with_name("gcs_preconditions.py")),
             "start", "--host", "127.0.0.1",
             "--port", str(self.port), "--in-memory", "--default-bucket", self.bucket, "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("gcp-storage-emulator exited at start")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gcp-storage-emulator did not start within 30 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def url(self, *parts: str) -> str:
        return "gs://" + "/".join([self.bucket, *parts])

    def arrow_fs(self):
        """pyarrow's GCS file system on the emulator (paths are ``bucket/key``)."""
        from pyarrow import fs
        return fs.GcsFileSystem(anonymous=True, scheme="http", endpoint_override=self.host)

    def upload(self, local: Path, *parts: str) -> str:
        from apache_beam.io.filesystems import FileSystems
        url = self.url(*parts)
        with FileSystems.create(url) as handle:
            handle.write(local.read_bytes())
        return url


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """A running emulator, with the environment that points every client at it."""
    emulator = GcsEmulator(tmp_path_factory.mktemp("gcs")).start()
    saved = {name: os.environ.get(name) for name in emulator.env()}
    os.environ.update(emulator.env())
    # Beam's credential lookup sets a process-wide default socket timeout;
    # the tests that run after these get the process as it was.
    timeout = socket.getdefaulttimeout()
    try:
        yield emulator
    finally:
        emulator.stop()
        socket.setdefaulttimeout(timeout)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
