"""Time grid, random numbers and path generation of the cross-asset model."""

from exposure.simulation.rng import unrolled_threefry_on_cpu

# Before any of the package's programs is lowered (every module that draws is under this package): the same bits,
# a tenth of threefry's compile time on the CPU (exposure.simulation.rng).
UNROLLED_THREEFRY = unrolled_threefry_on_cpu()
