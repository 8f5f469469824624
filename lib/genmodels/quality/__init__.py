"""Measuring sample quality: the feature classifier, the metrics (FID, KID, IS, precision/recall) and a training run's evaluation (the quality curve, best.pt, metrics.json)."""
