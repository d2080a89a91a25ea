"""docs/contract.md and docs/schemas/ agree with the types (they are generated from them),
every topic of the app has a contract, and the contracts import without Faust."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.contracts.docs import CONTRACT_MD, render_contract_md, render_schemas, stale_files
from app.contracts.registry import TOPICS

ROOT = Path(__file__).resolve().parents[3]


def test_generated_docs_are_up_to_date() -> None:
    stale = [str(p.relative_to(ROOT)) for p in stale_files()]
    assert stale == [], f"run `uv run python -m app.contracts.docs` to regenerate {stale}"


def test_every_topic_of_the_app_has_a_contract() -> None:
    source = (ROOT / "app" / "topics.py").read_text()
    declared = set(re.findall(r'settings\.topic\("([^"]+)"\)', source))
    assert declared
    assert declared <= {c.topic for c in TOPICS}


def test_every_contract_has_a_schema_and_a_block_in_contract_md() -> None:
    assert len(render_schemas()) == len(TOPICS)
    text = CONTRACT_MD.read_text()
    for contract in TOPICS:
        assert f"<!-- contract: {contract.topic} -->" in text
    assert render_contract_md(text) == text


def test_contracts_import_without_faust() -> None:
    """The Airflow environment (no Faust) builds keepa.products and fx.rates messages."""
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("faust", "mode", "agents", "tables"):
            raise ImportError("blocked " + name)
        return None
sys.meta_path.insert(0, Block())
import app.contracts.base, app.contracts.keepa_products, app.contracts.fx_rates
import app.contracts.observations, app.contracts.opportunities, app.contracts.dead_letters
import app.contracts.tables, app.contracts.registry, app.contracts.docs
import app.contracts.keepa_notifications
import app.ingest.fx, app.ingest.producer, app.keepa, app.keepa.tracking
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
