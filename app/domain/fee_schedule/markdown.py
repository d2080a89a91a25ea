"""The fee schedule as the Markdown tables of docs/pricing.md (one source of truth: the doc's
block between :data:`BEGIN` and :data:`END` is generated from the data file, and a unit test
checks they agree; regenerate with ``uv run python -m tests.unit.domain.test_pricing_doc``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import get_args

from app.domain.fee_schedule import FbaSize, FeeSchedule, ReferralRule, Sourced
from app.domain.markets import Market

__all__ = ["BEGIN", "END", "figures_markdown"]

BEGIN = "<!-- fee-schedule:begin (generated from app/domain/fee_schedule/schedule.toml) -->"
END = "<!-- fee-schedule:end -->"


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


def _markets(markets: Iterable[Market]) -> str:
    chosen = set(markets)
    return ", ".join(m.value for m in Market if m in chosen)


def _money(minor: int, markets: Iterable[Market]) -> str:
    currencies = {m.currency.value for m in markets}
    unit = "/".join(sorted(currencies))
    return f"{minor / 100:.2f} {unit}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _src(sourced: Sourced) -> str:
    mark = "" if sourced.verified else "**unverified** - "
    return _cell(mark + sourced.source)


def _referral_rate(rule: ReferralRule) -> str:
    if len(rule.tiers) == 1:
        return _pct(rule.tiers[0].rate)
    parts = []
    for tier in rule.tiers:
        bound = (
            f"up to {_money(tier.up_to_minor, rule.markets)}"
            if tier.up_to_minor is not None
            else "above"
        )
        parts.append(f"{_pct(tier.rate)} {bound}")
    how = "of the whole price" if rule.tier_mode == "whole" else "per price portion"
    return f"{'; '.join(parts)} ({how})"


def figures_markdown(schedule: FeeSchedule) -> str:
    """Every figure of the schedule with its source and period, as Markdown."""
    out: list[str] = [BEGIN, ""]
    out += [
        "**Categories** (Keepa root category per market)",
        "",
        "| Category | Keepa roots | Source |",
        "|---|---|---|",
    ]
    for category in schedule.categories:
        roots = "; ".join(
            f"{m.value} {', '.join(str(r) for r in sorted(ids))}"
            for m, ids in sorted(
                category.keepa_roots.items(), key=lambda kv: list(Market).index(kv[0])
            )
        )
        name = f"`{category.key}` {_cell(category.name)}"
        out.append(f"| {name} | {roots or '-'} | {_cell(category.source)} |")
    out += [
        "",
        "**Referral and closing fees** (on the total sales price, VAT included)",
        "",
        "| Category | Markets | Rate | Minimum | Closing fee | In force | Source |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in schedule.referral:
        minimum = _money(rule.minimum_minor, rule.markets) if rule.minimum_minor else "none"
        closing = _money(rule.closing_fee_minor, rule.markets) if rule.closing_fee_minor else "-"
        out.append(
            f"| `{rule.category}` | {_markets(rule.markets)} | {_referral_rate(rule)} | {minimum} "
            f"| {closing} | {rule.sourced.period} | {_src(rule.sourced)} |"
        )
    out += [
        "",
        "**Digital Services Fee** (by the seller's country of establishment and the store)",
        "",
        "| Established in | Stores | Rate | On | In force | Source |",
        "|---|---|---|---|---|---|",
    ]
    for dsf in schedule.dsf:
        who = (
            ", ".join(sorted(dsf.established_in))
            if dsf.established_in is not None
            else f"anywhere but {', '.join(sorted(dsf.established_outside or ()))}"
        )
        on = " + ".join(sorted(dsf.applies_to))
        out.append(
            f"| {who} | {_markets(dsf.sell_markets)} | {_pct(dsf.rate)} | {on} fees "
            f"| {dsf.sourced.period} | {_src(dsf.sourced)} |"
        )
    out += [
        "",
        "**VAT rates**",
        "",
        "| Market | Category | Rate | In force | Source |",
        "|---|---|---|---|---|",
    ]
    for vat in schedule.vat:
        out.append(
            f"| {vat.market.value} | {vat.category} | {_pct(vat.rate)} | {vat.sourced.period} "
            f"| {_src(vat.sourced)} |"
        )
    fee_vat = schedule.fee_vat
    out += [
        "",
        f"**VAT on Amazon's fees**: the charging market's {fee_vat.rate_source} rate; a cost "
        "when the seller is not VAT-registered there, else reverse-charged (shown only); "
        f"{fee_vat.sourced.period}. Source: {_src(fee_vat.sourced)}",
        "",
        "**FBA fulfilment fee card** (per unit, excluding VAT; minor units of the market's "
        "currency)",
        "",
        "| Tier | Size | Max weight | Max sides (mm) | "
        + " | ".join(c.market.value for c in schedule.fba_cards)
        + " |",
        "|---|---|---|---|" + "---|" * len(schedule.fba_cards),
    ]
    for i, tier in enumerate(schedule.fba_tiers):
        fees = " | ".join(str(card.fees_minor[i]) for card in schedule.fba_cards)
        dims = " x ".join(str(d) for d in tier.max_dims_mm)
        out.append(f"| {tier.name} | {tier.size} | {tier.max_weight_g} g | {dims} | {fees} |")
    out += ["", "Where each tier's limits come from:", ""]
    for tier in schedule.fba_tiers:
        out.append(f"- `{tier.name}`: {_cell(tier.source)}")
    out.append("")
    for card in schedule.fba_cards:
        out.append(f"- FBA card {card.market.value}, {card.sourced.period}: {_src(card.sourced)}")
    out += [
        "",
        "**Low-Price FBA eligibility** (reduced fees not applied, see the source)",
        "",
        "| Markets | Price up to (VAT incl.) | Sizes (heaviest unit) | In force | Source |",
        "|---|---|---|---|---|",
    ]
    for low in schedule.fba_low_price:
        sizes = "; ".join(
            f"{size} up to {low.max_weight_g[size]} g"
            for size in get_args(FbaSize)
            if size in low.max_weight_g
        )
        out.append(
            f"| {_markets(low.markets)} | {_money(low.max_price_minor, low.markets)} | {sizes} "
            f"| {low.sourced.period} | {_src(low.sourced)} |"
        )
    out += [
        "",
        "**European Fulfilment Network** (per unit, on top of the local FBA fee)",
        "",
        "| Stock in | Sold on | Surcharge | In force | Source |",
        "|---|---|---|---|---|",
    ]
    for efn in schedule.efn:
        out.append(
            f"| {_markets(efn.from_markets)} | {_markets(efn.sell_markets)} "
            f"| {_money(efn.surcharge_minor, efn.sell_markets)} | {efn.sourced.period} "
            f"| {_src(efn.sourced)} |"
        )
    out += [
        "",
        "**Monthly inventory storage fees** (per unit of volume per month, excluding VAT, "
        "charged by the market whose warehouse holds the stock)",
        "",
        "| Markets | Per | Standard Jan-Sep | Standard Oct-Dec | Oversize Jan-Sep "
        "| Oversize Oct-Dec | In force | Source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for st in schedule.storage:
        per = "cubic metre" if st.unit == "m3" else "cubic foot"
        amounts = " | ".join(
            _money(a, st.markets)
            for a in (
                st.standard_jan_sep_minor,
                st.standard_oct_dec_minor,
                st.oversize_jan_sep_minor,
                st.oversize_oct_dec_minor,
            )
        )
        out.append(
            f"| {_markets(st.markets)} | {per} | {amounts} | {st.sourced.period} "
            f"| {_src(st.sourced)} |"
        )
    out += ["", END]
    return "\n".join(out) + "\n"
