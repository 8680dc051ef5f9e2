"""codemint: real code in, verified instruction-tuning data out."""

__version__ = "0.1.0"
