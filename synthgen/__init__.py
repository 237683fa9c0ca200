"""Synthetic word images for training OCR recognizers."""

__version__ = "0.1.0"
