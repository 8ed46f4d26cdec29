"""Digit Lab: from scans of handwritten digits to a trained network you can watch think."""

__version__ = "0.1.0"
