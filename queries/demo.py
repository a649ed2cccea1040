"""Saved queries for the demo: questions the demo chain's data answers with some shape (a daily cycle,
a few whales), so a new user has something to run and chart on the first page they open."""

from __future__ import annotations

from orgs.models import Org, User, Visibility

from .models import SavedQuery

DEMO_QUERIES = {
    "Transfers per hour of day (evm)": (
        "SELECT hour(block_timestamp) AS hour_utc, count(*) AS transfers\n"
        "FROM evm.transfers\nGROUP BY 1\nORDER BY 1"
    ),
    "Top senders (evm)": (
        "SELECT from_address, count(*) AS transfers, count(DISTINCT token_address) AS tokens\n"
        "FROM evm.transfers\nGROUP BY 1\nORDER BY 2 DESC\nLIMIT 25"
    ),
    "Transfers per day, both chains": (
        "SELECT day, chain_id, transfers, tokens\nFROM evm.daily_transfers_by_chain\nORDER BY day, chain_id"
    ),
}


def demo_queries_seed(*, org: Org, user: User) -> list[SavedQuery]:
    """The demo's saved queries in ``org``, shared with its members; creates the missing ones and
    leaves an existing one (perhaps edited in the admin) as it is."""
    saved = []
    for name, sql in DEMO_QUERIES.items():
        query = SavedQuery.objects.filter(org=org, name=name).first()
        if query is None:
            query = SavedQuery(org=org, user=user, name=name, query=sql, visibility=Visibility.ORG)
            query.full_clean()
            query.save()
        saved.append(query)
    return saved
