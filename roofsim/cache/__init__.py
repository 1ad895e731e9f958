"""The cache model (public, numba-free at import; kernels load on first use).

- config.CacheLevelConfig: one level; CacheLevelConfig.parse("32KiB,8,64,lru").
- simulator.Hierarchy / simulate(): set-associative multi-level simulation, chunkable.
- mrc.mrc(): exact or SHARDS-sampled miss-ratio curves of fully associative LRU caches.
- traces: seeded synthetic traces; predictors: MRCPredictor and SimulationPredictor.
"""
