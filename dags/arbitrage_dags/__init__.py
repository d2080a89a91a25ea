"""Support code of the DAGs in ``dags/``: the task bodies, free of Airflow where possible.

The DAG files stay thin (schedule, retries, task wiring); what the tasks do lives here, as
plain functions over ``app.keepa`` / ``app.ingest`` that tests can call directly. Nothing in
this package imports Faust. ``dags/.airflowignore`` keeps the DAG processor from parsing it.
"""
