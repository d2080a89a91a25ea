"""Alerts: notify webhooks (any Apprise URL, or a plain JSON webhook) of newly opened
opportunities (see ``agents/alerts.py``).

Pure logic: :mod:`~app.alerts.config` (``ALERT_*`` settings), :mod:`~app.alerts.event`
(the event as alerts read it), :mod:`~app.alerts.rules` (who is notified, dedup key),
:mod:`~app.alerts.formats` (the message and the JSON payload), :mod:`~app.alerts.ratelimit`
(token bucket), :mod:`~app.alerts.retry` (retry policy), :mod:`~app.alerts.record` (the
record document). Apprise: :mod:`~app.alerts.targets` (which Apprise URL an entry goes
through; URL checks). I/O: :mod:`~app.alerts.delivery` (Apprise or a JSON POST),
:mod:`~app.alerts.index` and :mod:`~app.alerts.store` (Elasticsearch), and
:mod:`~app.alerts.service` tying them together.
"""
