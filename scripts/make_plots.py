"""Regenerate the example images of the README (plots/*.png) from roofsim's own API.

Run ``python scripts/make_plots.py`` from the repository root; it writes the files below into
plots/ and prints each name with its size. Every image is one call of roofsim.plotting, the same
call `roofsim plot ...` makes (the README shows the equivalent command beside each image).
"""
from __future__ import annotations

from pathlib import Path

from roofsim import plotting

OUT = Path(__file__).resolve().parent.parent / "plots"
DPI = 90          # modest files for the repository; the CLI renders at plotting.DPI

TRAINING = {"phase": "training"}
FIGURES = {
    "roofline-gpt3-175b-h100.png": lambda: plotting.roofline("h100", "gpt3-175b"),
    "roofline-llama2-70b-a100-h100-mi300x.png": lambda: plotting.roofline(["a100", "h100", "mi300x"], "llama2-70b"),
    "compare-gpt3-175b.png": lambda: plotting.compare(["a100", "h100", "mi300x", "tpu-v5p", "b200"], "gpt3-175b"),
    "ops-gpt3-175b-h100.png": lambda: plotting.ops("h100", "gpt3-175b"),
    "memory-training.png": lambda: plotting.memory(["bert-large", "gpt2-xl", "llama2-7b", "llama2-13b"],
                                                   ["a100-sxm4-40gb", "a100", "h200-sxm", "mi300x"],
                                                   wl_overrides=TRAINING),
    "memory-study.png": plotting.memory_study,
    "trends-hardware.png": lambda: plotting.trends("hardware"),
    "trends-models.png": lambda: plotting.trends("models"),
    "trends-compute.png": lambda: plotting.trends("compute"),
    "trends-hardware-catalogue.png": lambda: plotting.trends("hardware", "catalogue"),
}


def small_png(data: bytes) -> bytes:
    """The same image with a 256-colour palette: a third of the size, no visible change for plots."""
    import io

    from PIL import Image   # Pillow comes with matplotlib
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, make in FIGURES.items():
        data = small_png(plotting.to_bytes(make(), "png", dpi=DPI))
        (OUT / name).write_bytes(data)
        print(f"plots/{name}: {len(data) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
