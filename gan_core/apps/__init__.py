"""Inference pipelines behind the Apply pages (and the CLI)."""
