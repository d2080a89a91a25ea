"""`arbitrage stack up | down | status`: the whole local stack as one idempotent unit."""

from __future__ import annotations

from app.settings import Settings
from devtools.stack.artifacts import ensure_distribution, locate, pinned_versions
from devtools.stack.components import Component, ComponentStatus, Elasticsearch, Kafka, StackError

__all__ = ["ComponentStatus", "StackError", "StackManager"]


class StackManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.stack_dir
        self.dist_dir = self.root / "dist"

    def _components(self, *, resolve: bool) -> list[Component]:
        s = self.settings
        dist = (
            ensure_distribution(self.dist_dir)
            if resolve
            else locate(self.dist_dir, pinned_versions())
        )
        return [
            Kafka(
                self.root, dist, s.kafka_bootstrap_servers, s.stack_kafka_heap, s.stack_java_home
            ),
            Elasticsearch(
                self.root,
                dist,
                s.elasticsearch_url,
                s.stack_es_heap,
                s.stack_es_java_home,
                s.stack_user,
            ),
        ]

    def up(self) -> list[str]:
        """Start what is not running and wait until every component is ready.

        Returns the names of the components this call started (empty when all were up).
        """
        components = self._components(resolve=True)
        started = [c.name for c in components if c.start()]
        for component in components:
            component.wait_ready(self.settings.stack_timeout_s)
        return started

    def down(self, names: list[str] | None = None) -> list[str]:
        """Stop the components we started (by pid file); returns the names stopped."""
        stopped = []
        for component in reversed(self._components(resolve=False)):
            if (names is None or component.name in names) and component.stop():
                stopped.append(component.name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        return [c.status() for c in self._components(resolve=False)]

    def is_ready(self) -> bool:
        return all(s.ready for s in self.status())
