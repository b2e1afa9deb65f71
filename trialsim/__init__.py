"""trialsim: in-silico clinical trial simulation with virtual patients."""

from trialsim.design.load import Design, DesignError, load_design
from trialsim.run.simulate import SimulationResult, simulate

__version__ = "0.1.0"
__all__ = ["Design", "DesignError", "SimulationResult", "load_design", "simulate", "__version__"]
