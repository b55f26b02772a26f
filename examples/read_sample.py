"""Read a generated sample with coffea and plot electron p_T per truth class.

egamma-cnn generate --process zee --events 500 --out zee.root
python examples/read_sample.py zee.root
"""

import sys

import awkward as ak
import hist
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from egamma_cnn.nanoevents import open_events

events = open_events(sys.argv[1] if len(sys.argv) > 1 else "zee.root")
electrons = events.Electron
h = (
    hist.Hist.new.Reg(40, 0, 100, name="pt", label=r"electron $p_T$ [GeV]")
    .IntCat([0, 1, 2, 3, 4, 5], name="cls", label="truth class")
    .Double()
)
h.fill(pt=ak.flatten(electrons.pt), cls=ak.flatten(electrons.truthClass))
print(h.project("cls"))
print("best-track d0 of the first electrons:", ak.flatten(electrons.track.d0)[:5].tolist())
fig, ax = plt.subplots()
h[:, 0].plot1d(ax=ax, label="prompt")
h[:, 5].plot1d(ax=ax, label="LF hadron")
ax.legend()
fig.savefig("electron_pt.png")
