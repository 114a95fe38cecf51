"""PyTorch CPU peer for `make bench-teacher`: the same forward the Swift teacher runs.

all-MiniLM-L6-v2 via transformers, eager attention, hidden states and attention probabilities
returned, inference mode, fixed thread count. Prints one line: median tokens/s.
"""
import argparse
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
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = BertModel.from_pretrained(args.model, attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size, (args.batch, args.seq), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    rates = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
            if i >= args.warmup:
                rates.append(args.batch * args.seq / (time.perf_counter() - start))
    print(f"pytorch {torch.__version__} teacher: batch {args.batch} x seq {args.seq}, {args.threads} threads: "
          f"median {statistics.median(rates):.0f} tokens/s over {args.runs} runs (min {min(rates):.0f}, max {max(rates):.0f})")


if __name__ == "__main__":
    main()
