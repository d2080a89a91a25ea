"""The REST API (FastAPI): opportunities, products, price history, watchlist, stats, health.

Start it with ``arbitrage api``; see :func:`app.api.main.create_app`.
"""
