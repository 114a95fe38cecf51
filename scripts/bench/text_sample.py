"""Writes a real-English text sample for the benchmarks as JSON Lines ({"text": ...}).

Source: the licence texts Debian ships in /usr/share/common-licenses (base-files, on every
Debian system): ~48,000 words of legal English. Consecutive sentences are joined into
passages of about --words words, so that sequences fill --max-length tokens the way
paragraph-level data does. Deterministic: same files, same output.

  python3 scripts/bench/text_sample.py --out data/bench.jsonl --rows 512 --words 110
"""
import argparse
import glob
import json
import re


def sentences():
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except (IsADirectoryError, PermissionError):
            continue
        text = re.sub(r"\s+", " ", text)
        for sentence in re.split(r"(?<=[.!?;:])\s+", text):
            if len(sentence.split()) >= 3:
                yield sentence


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--words", type=int, default=110)
    args = parser.parse_args()
    pool = list(sentences())
    if not pool:
        raise SystemExit("no text found in /usr/share/common-licenses")
    # No passage repeats: stop when the sentences run out (about 430 passages of 110 words).
    rows, passage = [], []
    for sentence in pool:
        passage.append(sentence)
        if sum(len(s.split()) for s in passage) >= args.words:
            rows.append(" ".join(passage).strip())
            passage = []
        if len(rows) == args.rows:
            break
    with open(args.out, "w") as f:
        for n, text in enumerate(rows):
            f.write(json.dumps({"id": f"p{n}", "text": text}) + "\n")
    print(f"wrote {args.out}: {len(rows)} passages from {len(pool)} sentences")


if __name__ == "__main__":
    main()
