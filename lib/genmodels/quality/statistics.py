"""Tests on counts of runs: whether two arms of a study (runs with a sigmoid or a linear discriminator output,
say) differ by more than chance. Kept beside the metrics, not in the report's prose, so any study can use it."""

from __future__ import annotations


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test for k1 events in n1 runs against k2 in n2 (scipy's): exact at
    the handful of seeds a CPU study affords, where a chi-squared approximation is not."""
    from scipy.stats import fisher_exact as scipy_fisher_exact

    if n1 + n2 == 0:
        return 1.0
    return float(scipy_fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
