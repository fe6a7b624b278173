"""Data files shipped with the package (default catalogue, policy, demo data set)."""
