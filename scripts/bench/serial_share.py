"""Where one thread ran while the others waited: a `perf record -g` profile read as a timeline.

perf's symbol report counts CPU time, so work that runs on one thread while the other cores idle
looks as small as its samples, though it costs the wall clock as much as parallel work on all
cores. This reads `perf script` output, takes the samples of the main thread, and counts those with
no sample of a worker thread within `--window` ms (the sampling period at -F 999 is ~1 ms). It
prints that share, and the stacks that ran alone, grouped by their leaf and first two Swift frames.

  perf record -F 999 -g -o perf.data .build/release/distillery bench train ...
  perf script -i perf.data -F tid,time,ip,sym > perf.txt
  python3 scripts/bench/serial_share.py perf.txt --skip initializeRandomly --skip withHead

The main thread is the one with the most samples; workers are the next `--workers` busiest
(the prefetching reader, busy far less, is left out). Samples whose stack contains a `--skip`
text (set-up before the timed steps) are left out. A worker preempted by the host also makes the
main thread look alone, so on a noisy machine the share is an upper bound.
"""
import argparse
import bisect
import collections


def read_samples(path):
    samples, current = [], None
    for line in open(path, errors="replace"):
        if not line.strip():
            continue
        if not line.startswith("\t"):
            fields = line.split()
            current = (int(fields[0]), float(fields[1].rstrip(":")), [])
            samples.append(current)
        elif current is not None:
            parts = line.split(None, 1)
            current[2].append(parts[1].strip() if len(parts) > 1 else "?")
    return samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("perf_script_output")
    parser.add_argument("--workers", type=int, default=2, help="how many of the busiest other threads are workers")
    parser.add_argument("--window", type=float, default=0.6, help="ms either side of a main-thread sample")
    parser.add_argument("--skip", action="append", default=[], help="leave out samples whose stack contains this text")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()

    samples = read_samples(args.perf_script_output)
    by_thread = collections.Counter(tid for tid, _, _ in samples)
    ranked = [tid for tid, _ in by_thread.most_common()]
    main_tid, workers = ranked[0], set(ranked[1:1 + args.workers])
    worker_times = sorted(t for tid, t, _ in samples if tid in workers)
    window = args.window / 1000

    def worker_busy(t):
        i = bisect.bisect_left(worker_times, t - window)
        return i < len(worker_times) and worker_times[i] <= t + window

    alone, total = collections.Counter(), 0
    for tid, t, stack in samples:
        if tid != main_tid or any(text in frame for text in args.skip for frame in stack):
            continue
        total += 1
        if not worker_busy(t):
            swift = [frame[:70] for frame in stack if frame.startswith("$s")][:2]
            alone[" | ".join([stack[0][:40]] + swift)] += 1
    count = sum(alone.values())
    print(f"main thread {main_tid}: {total} samples, {count} ({100 * count / max(1, total):.1f} %) with no worker thread running "
          f"(workers {sorted(workers)}, threads by samples {by_thread.most_common()})")
    for stack, n in alone.most_common(args.top):
        print(f"{n:7d}  {stack}")


if __name__ == "__main__":
    main()
