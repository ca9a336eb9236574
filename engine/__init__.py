"""V2A Studio engine: media I/O, audio representation, models and sampling.

Importing ``engine`` is cheap and torch-free; torch is imported only by the modules
that need it (models, sampling, training), and only when they are imported.
"""

__version__ = "0.1.0"
