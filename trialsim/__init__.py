"""trialsim: in-silico clinical trial simulation with virtual patients."""

from trialsim.design.load import Design, DesignError, load_design

__version__ = "0.1.0"
__all__ = ["Design", "DesignError", "load_design", "__version__"]
