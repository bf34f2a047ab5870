"""The Flex Template in deploy/ builds from the repository alone and matches the code.

No container engine runs here, so the Dockerfile and the template metadata
are read and checked: every file copied into the image is in the repository,
every package pyproject.toml installs is copied, the base image is Beam's SDK
container of the pinned apache-beam, and every parameter (of the template,
the Cloud Scheduler request and the Airflow DAG) is an option the job knows.
The Airflow DAG is parsed, not imported: Airflow is not a dependency.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import IngestOptions
from tests.conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

DEPLOY = REPO / "deploy"


def dockerfile_instructions(path: Path):
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current += " " + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            instruction, _, rest = current.strip().partition(" ")
            lines.append((instruction.upper(), rest.strip()))
            current = ""
    return lines


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def pinned_beam() -> str:
    (pin,) = [d for d in pyproject()["project"]["dependencies"] if d.startswith("apache-beam")]
    return re.fullmatch(r"apache-beam(\[[^\]]*\])?==([0-9.]+)", pin.replace(" ", "")).group(2)


def ingest_option_names() -> set:
    parser = argparse.ArgumentParser()
    IngestOptions._add_argparse_args(parser)
    return {action.dest for action in parser._actions if action.dest != "help"}


def is_job_option(name: str) -> bool:
    """A newsbeam option or one of Beam's pipeline options."""
    return name in ingest_option_names() or name in PipelineOptions([]).get_all_options()


def test_dockerfile_copies_only_repository_files_and_every_package():
    instructions = dockerfile_instructions(DEPLOY / "Dockerfile")
    copied = set()
    for instruction, arguments in instructions:
        if instruction in ("COPY", "ADD"):
            words = shlex.split(arguments)
            if any(w.startswith("--from") for w in words):
                continue  # from another build stage, not from the repository
            assert instruction == "COPY", "ADD may fetch URLs; the image is built from files"
            sources = [w for w in words[:-1] if not w.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source.rstrip("/"))
        if instruction == "RUN":
            assert not re.search(r"\b(curl|wget|gsutil|git clone)\b", arguments), arguments
    included = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.split(".")[0] for pattern in included}
    assert packages <= copied, "every package pyproject.toml installs is copied"
    assert {"pyproject.toml", "setup.py", pyproject()["project"]["readme"]} <= copied
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for i, a in instructions if i == "ENV")))
    entry = env["FLEX_TEMPLATE_PYTHON_PY_FILE"]
    assert entry.startswith("/template/") and (REPO / entry[len("/template/"):]).is_file()
    assert "__main__" in (REPO / entry[len("/template/"):]).read_text(encoding="utf-8")


def test_base_images_are_the_pinned_beam_and_one_python():
    froms = [a.split()[0] for i, a in dockerfile_instructions(DEPLOY / "Dockerfile")
             if i == "FROM"]
    launcher, sdk = froms
    match = re.fullmatch(r"apache/beam_python(\d+)\.(\d+)_sdk:([0-9.]+)", sdk)
    assert match, f"the last stage is Beam's SDK container, not {sdk}"
    major, minor, beam = match.groups()
    assert beam == pinned_beam() == metadata.version("apache-beam")
    assert re.fullmatch(rf"gcr\.io/dataflow-templates-base/python{major}{minor}"
                        r"-template-launcher-base(:[\w.-]+)?", launcher)
    lowest = re.search(r">=\s*3\.(\d+)", pyproject()["project"]["requires-python"]).group(1)
    assert int(major) == 3 and int(minor) >= int(lowest)


def test_template_parameters_are_options_of_the_job():
    template = json.loads((DEPLOY / "metadata.json").read_text(encoding="utf-8"))
    parameters = template["parameters"]
    names = [p["name"] for p in parameters]
    assert len(names) == len(set(names))
    for parameter in parameters:
        assert is_job_option(parameter["name"]), parameter["name"]
        assert parameter["label"] and parameter["helpText"]
        for pattern in parameter.get("regexes", []):
            re.compile(pattern)
    required = {p["name"] for p in parameters if not p.get("isOptional")}
    assert required == {"output"}
    assert {"input", "feeds", "run_id", "since_last_run", "sdk_container_image"} <= set(names)
    # Flex Templates pass every parameter as --name=value, switches included.
    options = IngestOptions(["--since_last_run=true", "--no_near_dedup=false",
                             "--output=gs://b/news"])
    assert options.since_last_run is True and options.no_near_dedup is False


def test_scheduler_request_and_airflow_dag_pass_known_parameters():
    request = json.loads((DEPLOY / "launch_request.json").read_text(encoding="utf-8"))
    template_names = {p["name"] for p in json.loads(
        (DEPLOY / "metadata.json").read_text(encoding="utf-8"))["parameters"]}
    assert set(request["launchParameter"]["parameters"]) <= template_names

    tree = ast.parse((DEPLOY / "airflow_dag.py").read_text(encoding="utf-8"))
    dicts = [node for node in ast.walk(tree) if isinstance(node, ast.Dict)]
    parameters = next(d for d in dicts if any(
        isinstance(k, ast.Constant) and k.value == "since_last_run" for k in d.keys))
    passed = {k.value for k in parameters.keys}
    assert passed <= template_names and {"output", "run_id"} <= passed
    assert "airflow" not in sys.modules


def test_deploy_readme_gives_the_commands():
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for command in ("gcloud builds submit --config deploy/cloudbuild.yaml",
                    "gcloud dataflow flex-template build",
                    "--metadata-file deploy/metadata.json",
                    "gcloud dataflow flex-template run",
                    "gcloud scheduler jobs create http",
                    "flexTemplates:launch"):
        assert command in readme
