"""A nightly newsbeam run on Dataflow, launched from Airflow.

Copy this file into the DAGs folder of an Airflow with the Google provider
(apache-airflow-providers-google) and set the four names below. It launches
the Flex Template built as deploy/README.md says, once a night:

- ``run_id`` is the run's logical time, so a retried or cleared task
  relaunches the same run id, which replaces that run's files instead of
  adding rows;
- ``since_last_run`` makes each run read only the dump files that no earlier
  successful run read;
- ``max_active_runs=1``: runs over one output go one at a time (the cursor
  and the dedup index move on in order).
"""
from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator

PROJECT = "my-project"
REGION = "europe-west1"
BUCKET = "my-news-bucket"
IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/newsbeam/newsbeam:0.1.0"

with DAG(
    dag_id="newsbeam_nightly",
    schedule="0 2 * * *",
    start_date=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=10)},
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="ingest",
        project_id=PROJECT,
        location=REGION,
        wait_until_finished=True,
        body={
            "launchParameter": {
                "jobName": "newsbeam-{{ ds_nodash }}",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/newsbeam.json",
                "parameters": {
                    "input": f"gs://{BUCKET}/dumps/**",
                    "feeds": f"gs://{BUCKET}/config/feeds.txt",
                    "output": f"gs://{BUCKET}/news",
                    "run_id": "{{ ts_nodash }}",
                    "since_last_run": "true",
                    "sdk_container_image": IMAGE,
                },
                "environment": {"tempLocation": f"gs://{BUCKET}/tmp", "maxWorkers": 10},
            }
        },
    )
