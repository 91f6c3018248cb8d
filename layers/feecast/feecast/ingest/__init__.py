"""Ingestion: Bitcoin transactions -> per-minute features (docs/ingest.md).

sources.py   where transactions come from (blockchain.info, mempool.space, JSON Lines files)
pipeline.py  run_ingest: poll -> validate -> dedup + aggregate -> close minutes (one entry point)
store.py     the state kept between invocations (interface); memory.py an in-memory one
collect_transactions.py  what the scheduled function and `feecast ingest replay` build around
             run_ingest
synthetic.py realistic synthetic transaction streams (documented as synthetic)
"""
