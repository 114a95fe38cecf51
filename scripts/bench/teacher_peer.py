"""PyTorch CPU peer for `make bench-teacher`: the same forward the Swift teacher runs.

all-MiniLM-L6-v2 via transformers, eager attention, hidden states and attention probabilities
returned, inference mode, fixed thread count; fp32, or with --autocast-bf16 under
torch.autocast("cpu", dtype=torch.bfloat16) (the one line a PyTorch user adds for bf16).
Prints one line: median tokens/s.
"""
import argparse
import contextlib
import statistics
import time

import torch
from transformers import BertModel


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--autocast-bf16", action="store_true", help="run under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = BertModel.from_pretrained(args.model, attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size, (args.batch, args.seq), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    rates = []
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if args.autocast_bf16 else contextlib.nullcontext()
    with torch.inference_mode(), precision:
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
            if i >= args.warmup:
                rates.append(args.batch * args.seq / (time.perf_counter() - start))
    print(f"pytorch {torch.__version__} teacher{' (bf16 autocast)' if args.autocast_bf16 else ''}: batch {args.batch} x seq {args.seq}, {args.threads} threads: "
          f"median {statistics.median(rates):.0f} tokens/s over {args.runs} runs (min {min(rates):.0f}, max {max(rates):.0f})")


if __name__ == "__main__":
    main()
