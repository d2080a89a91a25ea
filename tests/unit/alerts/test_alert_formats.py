from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.alerts.config import WebhookConfig
from app.alerts.event import parse_opportunity
from app.alerts.formats import build_payload, format_money, format_percent, headline, summary
from app.domain.markets import Market
from app.domain.money import Currency
from tests.unit.alerts.alert_events import opportunity_event

ALERT_ID = "ab" * 32
OPENED_EVENT = opportunity_event()
OPENED = parse_opportunity(OPENED_EVENT)


def hook(fmt: str, **fields: Any) -> WebhookConfig:
    return WebhookConfig.model_validate(
        {"name": f"{fmt}-hook", "url": "https://example.org/hook", "format": fmt, **fields}
    )


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (926, Currency.EUR, "€9.26"),
        (5, Currency.EUR, "€0.05"),
        (0, Currency.EUR, "€0.00"),
        (-719, Currency.EUR, "-€7.19"),
        (123456789, Currency.EUR, "€1,234,567.89"),
        (5000, Currency.GBP, "£50.00"),
    ],
)
def test_money_is_formatted_from_minor_units(minor: int, currency: Currency, text: str) -> None:
    assert format_money(minor, currency) == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [("0.4226", "42.3 %"), ("0.42249", "42.2 %"), ("0.00049", "0.0 %"), ("1.5", "150.0 %")],
)
def test_percentages_have_one_decimal(ratio: str, text: str) -> None:
    assert format_percent(Decimal(ratio)) == text


def test_summary_has_the_figures_the_product_and_both_markets() -> None:
    assert headline(OPENED) == "New opportunity DE → FR: €9.26 profit, ROI 42.3 %"
    assert summary(OPENED) == (
        "New opportunity DE → FR: €9.26 profit, ROI 42.3 %, margin 22.2 % - "
        "Espresso machine [SYNTHETIC] (B0ALERT001): buy on amazon.de at €20.00, "
        "sell on amazon.fr at €50.00"
    )


def test_gbp_prices_are_shown_in_pounds() -> None:
    gb = parse_opportunity(opportunity_event(sell=Market.GB))
    assert "sell on amazon.co.uk at £50.00" in summary(gb)


def test_json_payload_is_the_event_plus_a_summary() -> None:
    payload = build_payload(hook("json"), OPENED, ALERT_ID)
    assert payload == {
        "alert_id": ALERT_ID,
        "webhook": "json-hook",
        "summary": summary(OPENED),
        "event": OPENED_EVENT,
    }
    orjson.dumps(payload)  # serialisable as is


def test_slack_payload_is_block_kit_with_both_links() -> None:
    payload = build_payload(hook("slack"), OPENED, ALERT_ID)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == summary(OPENED)
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": headline(OPENED), "emoji": False}
    assert blocks[1]["text"]["text"] == (
        "*<https://www.amazon.fr/dp/B0ALERT001|Espresso machine [SYNTHETIC]>*\nASIN `B0ALERT001`"
    )
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert "*Profit*\n€9.26" in fields
    assert "*ROI*\n42.3 %" in fields
    assert "*Buy on amazon.de*\n€20.00" in fields
    assert "*Sell on amazon.fr*\n€50.00" in fields
    assert [e["url"] for e in blocks[3]["elements"]] == [OPENED.buy_url, OPENED.sell_url]
    orjson.dumps(payload)


def test_discord_payload_has_content_and_an_embed() -> None:
    payload = build_payload(hook("discord"), OPENED, ALERT_ID)
    assert set(payload) == {"content", "embeds", "allowed_mentions"}
    assert payload["allowed_mentions"] == {"parse": []}
    assert "€9.26" in payload["content"]
    (embed,) = payload["embeds"]
    assert embed["title"] == "Espresso machine [SYNTHETIC]"
    assert embed["url"] == OPENED.sell_url
    assert embed["timestamp"] == "2026-11-20T12:00:00Z"
    assert f"[amazon.de]({OPENED.buy_url})" in embed["description"]
    assert f"[amazon.fr]({OPENED.sell_url})" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Profit"] == "€9.26"
    assert fields["ROI"] == "42.3 %"
    assert fields["Margin"] == "22.2 %"
    assert fields["ASIN"] == "B0ALERT001"
    orjson.dumps(payload)


def test_telegram_payload_is_send_message_with_html() -> None:
    payload = build_payload(hook("telegram", chat_id="-1001234"), OPENED, ALERT_ID)
    assert set(payload) == {"chat_id", "text", "parse_mode", "link_preview_options"}
    assert payload["chat_id"] == "-1001234"
    assert payload["parse_mode"] == "HTML"
    text = payload["text"]
    assert text.startswith(f"<b>{headline(OPENED)}</b>\n")
    assert '<a href="https://www.amazon.fr/dp/B0ALERT001">Espresso machine [SYNTHETIC]</a>' in text
    assert 'Buy on <a href="https://www.amazon.de/dp/B0ALERT001">amazon.de</a> at €20.00' in text
    assert "Profit <b>€9.26</b> · ROI 42.3 %" in text


def test_titles_are_escaped_for_every_markup_and_clipped() -> None:
    nasty = "<b>Mug</b> & *bold* @everyone [x](http://evil) " + "x" * 500
    o = parse_opportunity(opportunity_event(title=nasty))
    slack = build_payload(hook("slack"), o, ALERT_ID)
    assert "&lt;b&gt;Mug&lt;/b&gt; &amp; *bold*" in slack["blocks"][1]["text"]["text"]
    assert "<b>" not in slack["text"]
    telegram = build_payload(hook("telegram", chat_id=1), o, ALERT_ID)["text"]
    assert "&lt;b&gt;Mug&lt;/b&gt; &amp;" in telegram
    assert "<b>Mug" not in telegram
    discord = build_payload(hook("discord"), o, ALERT_ID)
    assert "\\*bold\\* \\@everyone \\[x\\]\\(http" in discord["content"]
    assert len(discord["embeds"][0]["title"]) <= 256
    assert len(discord["content"]) <= 2000
    assert "…" in summary(o)
    assert len(summary(o)) < 400


def test_a_missing_title_falls_back_to_the_asin() -> None:
    o = parse_opportunity(opportunity_event(title=None))
    assert "ASIN B0ALERT001 (B0ALERT001)" in summary(o)
