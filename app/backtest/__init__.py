"""The backtest's report (``arbitrage backtest``): figures from a replay's opportunity events.

Pure code (no I/O): :mod:`app.backtest.report` computes and prints the figures,
:mod:`app.backtest.html` renders them with plots. Running the replay through the real
topology is a developer tool (``devtools/backtest.py``): it needs the local stack.
"""
