"""depotflow: the operations platform for regulated manufacturers."""

__version__ = "0.1.0"
