"""Reads a Distillery cache with h5py + hdf5plugin (the way a Python user would) and prints
a JSON summary the Swift interoperability test compares with its own reader.

  python3 scripts/check_cache.py cache.h5 [--sequence I]

Shows: the root attributes, each dataset's dtype and shape, and for sequence I its token ids,
hidden states, attention and logits decoded to float (int8 rows multiplied by their scale).
"""
import argparse
import json

import h5py
import hdf5plugin  # noqa: F401  (registers the zstd filter, id 32015)
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache")
    parser.add_argument("--sequence", type=int, default=0)
    args = parser.parse_args()
    with h5py.File(args.cache, "r") as f:
        spec = json.loads(f.attrs["spec"])
        teacher = json.loads(f.attrs["teacher"])["teacher"]
        offsets = f["inputs/offsets"][:]
        i = args.sequence
        start, end = int(offsets[i]), int(offsets[i + 1])
        out = {
            "complete": int(f.attrs["complete"]),
            "sequences": int(f.attrs["sequences"]),
            "tokens": int(f.attrs["tokens"]),
            "datasets": {},
            "input_ids": f["inputs/input_ids"][start:end].astype(int).tolist(),
        }
        f.visititems(lambda name, obj: out["datasets"].__setitem__(name, [str(obj.dtype), list(obj.shape)])
                     if isinstance(obj, h5py.Dataset) else None)

        def tensor(path, rows):
            values = f[path][rows].astype(np.float32)
            if f[path].dtype == np.int8:
                scale = f[path + "_scale"][rows].astype(np.float32)
                values = values * (scale[:, None] if values.ndim == 2 else scale)
            return values

        for layer in spec["hidden_layers"]:
            out[f"hidden.{layer}"] = tensor(f"hidden/layer_{layer}", slice(start, end)).ravel().tolist()
        if spec["attention_layers"]:
            a = f["attention/offsets"][:]
            for layer in spec["attention_layers"]:
                path = f"attention/layer_{layer}"
                values = f[path][int(a[i]):int(a[i + 1])].astype(np.float32)
                n = end - start
                if f[path].dtype == np.int8:
                    # One scale per query row of each head: heads·n rows per sequence.
                    h = teacher["heads"]
                    scale = f[path + "_scale"][h * start:h * end].astype(np.float32)
                    values = (values.reshape(h * n, n) * scale[:, None]).ravel()
                out[f"attention.{layer}"] = values.ravel().tolist()
                rows = values.reshape(teacher["heads"], n, n).sum(axis=-1)
                out[f"attention.{layer}.row_sums_max_deviation"] = float(np.abs(rows - 1).max())
        if "full" in spec["logits"] and teacher["head"] == "classifier":
            out["logits.full"] = f["logits/full"][i].astype(np.float32).tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
