"""Fonts: files on disk (discovery), the popularity catalog, the validity audit, glyph shapes, the sampler and sheets."""
