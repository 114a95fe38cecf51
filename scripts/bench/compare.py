"""Runs a Distillery benchmark command and its PyTorch peer alternately and prints the ratio.

Each command prints a line containing 'median N tokens/s'. The two are interleaved for
--rounds rounds so that noise from a shared machine hits both; the figure per side is the
median over rounds. Usage:
  compare.py --label "teacher 32x128" --rounds 3 -- <distillery command> --- <peer command>
"""
import re
import statistics
import subprocess
import sys


def rate(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    match = re.search(r"median ([0-9.]+) tokens/s", out)
    if not match:
        sys.exit(f"no 'median N tokens/s' in the output of {' '.join(cmd)}:\n{out}")
    return float(match.group(1)), out.strip().splitlines()[-1]


def main():
    argv = sys.argv[1:]
    label, rounds = "benchmark", 3
    while argv and argv[0] != "--":
        if argv[0] == "--label":
            label, argv = argv[1], argv[2:]
        elif argv[0] == "--rounds":
            rounds, argv = int(argv[1]), argv[2:]
        else:
            sys.exit(f"unknown option {argv[0]}")
    argv = argv[1:]
    split = argv.index("---")
    ours_cmd, peer_cmd = argv[:split], argv[split + 1:]
    ours, peer = [], []
    for r in range(rounds):
        value, line = rate(ours_cmd)
        ours.append(value)
        print(f"  round {r + 1}: {line}", flush=True)
        value, line = rate(peer_cmd)
        peer.append(value)
        print(f"  round {r + 1}: {line}", flush=True)
    o, p = statistics.median(ours), statistics.median(peer)
    print(f"{label}: distillery {o:.0f} tokens/s, pytorch {p:.0f} tokens/s, ratio {o / p:.2f}x (medians of {rounds} rounds)")


if __name__ == "__main__":
    main()
