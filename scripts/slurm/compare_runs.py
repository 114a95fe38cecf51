#!/usr/bin/env python3
"""Compares two runs of one pipeline (e.g. local and Slurm) for `make check-slurm`.

Equal means: the same results table (every metric of every student and the teacher, exactly;
training times are left out), and byte-identical model weights of the teacher and of every
student's final and best checkpoints. Exit 0 when equal, 1 with the differences otherwise.

    compare_runs.py results-local/NAME results-slurm/NAME
"""
import hashlib
import json
import pathlib
import sys


def table(folder):
    rows = json.loads((folder / "results.json").read_text())["rows"]

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("training_seconds", "status")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(rows)


def weights(folder):
    found = {}
    for path in sorted(folder.glob("**/model.safetensors")):
        relative = path.relative_to(folder)
        # Work folders and checkpoints-in-progress are not results.
        if {"work", "checkpoint"} & set(relative.parts):
            continue
        found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    problems = []
    if table(a) != table(b):
        problems.append("results.json tables differ (metrics or rows)")
    wa, wb = weights(a), weights(b)
    if set(wa) != set(wb):
        problems.append(f"different checkpoints: only in {a}: {sorted(set(wa) - set(wb))}, only in {b}: {sorted(set(wb) - set(wa))}")
    differing = [k for k in sorted(set(wa) & set(wb)) if wa[k] != wb[k]]
    if differing:
        problems.append(f"weights differ: {differing}")
    if problems:
        print("\n".join(f"DIFFERENT: {p}" for p in problems))
        sys.exit(1)
    students = len(table(a)) - 1
    print(f"identical: {students} result rows and the teacher, {len(wa)} checkpoints byte for byte ({a} vs {b})")


if __name__ == "__main__":
    main()
