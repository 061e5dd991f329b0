"""rtsynth: a real-time host for small neural spectral instruments.

The package is layered (see design.md): ``dsp`` -> ``model`` -> ``engine`` ->
``control`` -> ``host`` -> ``cli``; each layer imports only from the ones
before it. Importing the top-level package stays cheap on purpose: the CLI
loads numpy and friends only for the command it runs.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
