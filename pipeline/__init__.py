"""The pipeline: Faust-style agents on Redis Streams (``pipeline.app``), the persist agent, and
the Bytewax market-data flows (``pipeline.flows``)."""
