"""The Warp kernels of a physics step, one module per stage (see ``diffsim.simulator``)."""
