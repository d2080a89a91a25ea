"""Tools for developers and the demo, not part of a deployment.

The local Kafka + Elasticsearch stack (:mod:`devtools.stack`), the demo runner
(:mod:`devtools.demo`), the benchmark (:mod:`devtools.benchmark`), the synthetic sample
generator (:mod:`devtools.sample`) and the isolated worker/service processes used by the demo,
the benchmark and the tests (:mod:`devtools.processes`). The wheel and the Docker image ship
only ``app``, ``agents``, ``tables`` and ``dashboard``; the ``arbitrage`` CLI imports these
lazily, so its dev verbs work from a checkout.
"""
