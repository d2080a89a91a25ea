"""The Keepa webhook receiver (``arbitrage webhook``, issue 11).

Keepa pushes each tracking notification as one JSON object in an HTTP POST to the URL we
gave it (``https://<host>/keepa/<KEEPA_WEBHOOK_SECRET>``); it cannot sign requests, so the
secret path segment is the authentication. The receiver checks the secret (constant time, a
wrong one is a 404 that nothing logs), reads at most :data:`~app.webhook.body.MAX_BODY_BYTES`,
reads the body with :func:`app.keepa.tracking.notifications.parse_notification` and publishes
the notification to ``keepa.notifications`` (key = ASIN), answering 200 only once the broker
has acknowledged it (``acks=all``). It answers 503 when Kafka cannot take it in time, so
Keepa's retry (once, after about 15 s) or the notification queue catches it, and 400 for a
body that is not a notification, after that body was dead-lettered to
``keepa.webhook.dlq`` with the reason.

Modules: :mod:`~app.webhook.main` (the FastAPI app), :mod:`~app.webhook.routes` (its
endpoints), :mod:`~app.webhook.publisher` (what the endpoints publish through),
:mod:`~app.webhook.kafka_publisher` (the Kafka implementation), :mod:`~app.webhook.secret`
(the secret path segment), :mod:`~app.webhook.body` (the size-limited body),
:mod:`~app.webhook.access_log` (access logs without the secret), :mod:`~app.webhook.models`
(response bodies), :mod:`~app.webhook.cli` (the command).
"""
