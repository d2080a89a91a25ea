"""The local stack: a real Apache Kafka (KRaft) broker and a real Elasticsearch node,
resolved from Maven Central and run as plain processes (no Docker)."""

from devtools.stack.manager import ComponentStatus, StackError, StackManager

__all__ = ["ComponentStatus", "StackError", "StackManager"]
