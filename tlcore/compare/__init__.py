"""Comparing finished runs on the same test rows: the comparison tables, reliability (calibration), the
HTML report, and the checks on finished runs (out-of-domain, slices, counterfactual probe, footprint)."""
