"""ORE side by side: the same flat-market portfolio through ORE (open-source-risk-engine) and this engine.

    ore_inputs   writes ORE's input folder and the engine's portfolio/overrides for one SideBySide spec
    run_ore      runs ORE in-process (Python bindings), returns the netting-set exposure profile
    compare      runs both and compares EPE/PFE date by date; ``python -m benchmarks.ore.compare``

See README.md in this folder for every convention difference between the two engines.
"""
