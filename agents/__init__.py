"""Faust agents: the detector (prices -> opportunities) and the Elasticsearch sink."""
