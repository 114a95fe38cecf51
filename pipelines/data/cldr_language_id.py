"""A small multilingual labelled set: which language is this text in? From CLDR via PyPI `babel`.

Dataset `cldr-language-id`: short texts made of names from the Unicode CLDR locale data (the
names of territories, languages, months and weekdays that each locale gives in its own language),
labelled with that locale's language. Eight languages over four scripts: English, German, French,
Spanish, Portuguese, Russian, Greek and Hindi (Latin, Cyrillic, Greek, Devanagari); the Latin five
share many names (Brasil / Brésil / Brazil), so the task is not solved by the script alone.

Source and licence: the PyPI package `babel` (BSD-3-Clause) ships CLDR's locale data (Unicode
License v3, which permits redistribution and derived data). Installed with pip when missing.

What it does:
  1. reads each language's CLDR names through babel (territories, languages, months, weekdays),
     drops names shorter than 3 characters or containing digits, and de-duplicates them
  2. splits each language's names into train / dev / test pools (seeded; no name in two pools)
  3. makes each example by joining 3 names of one pool with ", " (a text of several words)
  4. writes <out>/<name>/{train,dev,test}.jsonl, one {"id", "text", "label"} per line with the
     English name of the language as the label, balanced over the languages, and meta.json

  python3 pipelines/data/cldr_language_id.py --out data          # data/cldr-language-id/{train,dev,test}.jsonl
Deterministic: the same arguments (and babel version) give byte-identical files.
"""
import argparse
import importlib
import json
import os
import random
import subprocess
import sys

LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese",
             "ru": "Russian", "el": "Greek", "hi": "Hindi"}


def babel():
    try:
        return importlib.import_module("babel")
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "babel"])
        return importlib.import_module("babel")


def names(code):
    locale = babel().Locale.parse(code)
    pools = [locale.territories.values(), locale.languages.values(),
             locale.months["format"]["wide"].values(), locale.days["format"]["wide"].values()]
    seen = []
    for pool in pools:
        for name in pool:
            name = " ".join(str(name).split())
            if len(name) >= 3 and not any(c.isdigit() for c in name) and name not in seen:
                seen.append(name)
    return sorted(seen)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data")
    parser.add_argument("--name", default="cldr-language-id")
    parser.add_argument("--train", type=int, default=120, help="examples per language")
    parser.add_argument("--dev", type=int, default=30)
    parser.add_argument("--test", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    splits = {"train": [], "dev": [], "test": []}
    for code, language in LANGUAGES.items():
        pool = names(code)
        rng.shuffle(pool)
        # Names split 70/15/15, so no name is seen in two splits.
        a, b = int(len(pool) * 0.7), int(len(pool) * 0.85)
        for split, part, count in [("train", pool[:a], args.train), ("dev", pool[a:b], args.dev), ("test", pool[b:], args.test)]:
            for i in range(count):
                text = ", ".join(rng.sample(part, 3))
                splits[split].append({"id": f"{code}-{split}-{i}", "text": text, "label": language})
    folder = os.path.join(args.out, args.name)
    os.makedirs(folder, exist_ok=True)
    for split, rows in splits.items():
        rng.shuffle(rows)
        with open(os.path.join(folder, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    meta = {"source": "Unicode CLDR via PyPI babel " + babel().__version__, "licence": "babel BSD-3-Clause; CLDR data Unicode License v3",
            "languages": LANGUAGES, "counts": {k: len(v) for k, v in splits.items()}, "seed": args.seed}
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {folder}: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))


if __name__ == "__main__":
    main()
