"""Baselines that go through the same evaluation as condensation: real-image coresets (``coreset``)."""
