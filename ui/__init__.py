"""Pieces several pages share: translations, cached models, image helpers."""
