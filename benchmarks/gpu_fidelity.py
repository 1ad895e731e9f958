"""GPU fidelity: roofsim's predictions against the published kernel measurements it ships.

    python benchmarks/gpu_fidelity.py

For every device with measurements in roofsim/data/measurements/, prints the mean and median
|predicted / measured - 1| of: the pure roofline (--ideal), the model with roofsim's documented
defaults (no efficiency section), the catalogue entry (fitted efficiencies), 5-fold
cross-validation (each fold fitted without its kernels, from where `roofsim calibrate
--from-prior` starts: the fitted values of the device ``efficiency.prior`` names, else the
defaults) and, where a device has several sources, leave-one-source-out (and, where the device names a prior, the same
held-out fits from the defaults: what the prior buys); then, per op family, the catalogue's error and the
held-out errors of those same cross-validations (each kernel scored by a fit without it). Accuracy
figures, not speed: recorded in benchmarks/RESULTS.md ("GPU fidelity") and the README.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import roofsim
from roofsim.hw import get_hardware
from roofsim.measure.calibrate import by_source, cross_validate, defaults_of, folds, predict, start
from roofsim.measure.records import load_measurements
from roofsim.measure.validate import matches

DATA = Path(roofsim.__file__).parent / "data" / "measurements"


def _err(hw, ms, ideal=False):
    if ideal:
        from roofsim.roofline import evaluate_arrays
        p = np.array([evaluate_arrays(hw, list(m.ops), ideal=True).time[0].sum() for m in ms])
    else:
        p = predict(hw, ms)
    return np.abs(p / np.array([m.time_s for m in ms]) - 1.0)


def _fmt(e) -> str:
    return "-" if e is None else f"{np.mean(e):6.1%} {np.median(e):6.1%}"


def main() -> None:
    ms = [m for f in sorted(DATA.glob("*.csv")) for m in load_measurements(f)]
    print(f"{len(ms)} published kernels from {len({m.source for m in ms})} sources in {DATA}\n")
    print(f"{'device':16s} {'kernels':>7s}  {'ideal':>13s}  {'defaults':>13s}  {'catalogue':>13s}  {'5-fold CV':>13s}  {'LOSO':>13s}"
          f"  {'LOSO no prior':>13s}")
    print(f"{'':16s} {'':>7s}" + f"  {'mean  median':>13s}" * 7)
    families = {}
    for device in sorted({m.device for m in ms}):
        hw = get_hardware(device)
        mine = [m for m in ms if matches(hw, m.device)]
        defaults = defaults_of(hw)
        prior = start(hw, mine)     # as `roofsim calibrate --from-prior` starts (efficiency.prior)
        cat = _err(hw, mine)
        cv = cross_validate(prior, mine, folds(mine, 5))
        groups = by_source(mine)
        loso = cross_validate(prior, mine, groups) if len(groups) > 1 else None
        # the same held-out fits from the defaults, where a prior is named: what the prior buys
        bare = (cross_validate(start(defaults, mine), mine, groups)
                if loso is not None and hw.efficiency.prior else None)
        print(f"{hw.id:16s} {len(mine):7d}  {_fmt(_err(hw, mine, ideal=True))}  {_fmt(_err(defaults, mine))}  "
              f"{_fmt(cat)}  {_fmt(cv)}  {_fmt(loso)}  {_fmt(bare)}")
        for i, m in enumerate(mine):
            row = families.setdefault((hw.id, m.category), ([], [], [], []))
            row[0].append(cat[i])
            row[1].append(cv[i])
            if loso is not None:
                row[2].append(loso[i])
            if bare is not None:
                row[3].append(bare[i])
    print("\nPer device and op family (mean, median):")
    print(f"  {'device':16s} {'family':20s} {'kernels':>7s}  {'catalogue':>13s}  {'5-fold CV':>13s}  {'LOSO':>13s}"
          f"  {'LOSO no prior':>13s}")
    for (dev, fam), (c, v, lo, b) in sorted(families.items()):
        print(f"  {dev:16s} {fam:20s} {len(c):7d}  {_fmt(np.array(c))}  {_fmt(np.array(v))}  "
              f"{_fmt(np.array(lo) if lo else None)}  {_fmt(np.array(b) if b else None)}")


if __name__ == "__main__":
    main()
