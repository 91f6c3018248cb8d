"""feecast_testing: what tests, the demo, the benchmarks and `feecast ingest synthetic` share,
and what never runs in Lambda, so it stays out of the layer (layers/feecast).

- synthetic: seeded synthetic Bitcoin transaction streams;
- ingest_memory: the ingest pipeline's store and sink in memory (fakes of the DynamoDB and
  Feature Store adapters, and `minutes_of`, the reference aggregation);
- artifacts: an in-memory ArtifactStore.
"""
