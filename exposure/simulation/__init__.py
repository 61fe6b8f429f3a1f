"""Time grid, random numbers and path generation of the cross-asset model."""
