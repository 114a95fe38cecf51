"""PyTorch CPU peer for `make bench-train`: the distillation step the Swift trainer runs.

Student: a random BertForSequenceClassification, 3 layers x hidden 384, 12 heads, intermediate 1536,
vocab 30522, 2 labels, dropout 0.1 (train mode), eager attention, float32, fixed thread count.
One step = forward (hidden states and attention probabilities returned) + losses + backward + AdamW
(lr 1e-4, weight decay 0.01 on weight matrices and embeddings, none on biases and LayerNorm weights):
  KD on the classification logits (tau 2, tau^2 scaling)
  + hidden-state MSE, last student layer vs a teacher layer of the same width (no projection)
  + attention KL, last student layer vs a 12-head teacher layer (student clamped at 1e-7),
each exactly as /work/notes/definitions.md (sections 3, 6 and 8), normalised by the real tokens
(every token is real here). With --autocast-bf16 the forward and the losses run under
torch.autocast("cpu", dtype=torch.bfloat16) (the one line a PyTorch user adds for bf16; backward
follows the autocast graph, AdamW and the weights stay fp32). Teacher targets are synthetic and prepared in memory before timing:
a pool of --pool batches (logits normal*2, hidden states normal, attention rows softmax(normal*2)
over the keys), cycled.

--warmup steps untimed, then --rounds rounds of --steps timed steps. Prints one line per round
and a final line 'median N tokens/s' (the format scripts/bench/compare.py reads), with the peak
RSS (getrusage ru_maxrss); --json FILE appends the same figures as one JSON line.

  python3 scripts/bench/train_peer.py --batch 32 --seq 128 --threads 2
"""
import argparse
import contextlib
import json
import platform
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification

CLAMP = 1e-7


def kd_loss(z_s, z_t, tau):
    """3. tau^2 (1/rows) sum_r KL(softmax(z_t/tau) || softmax(z_s/tau))."""
    log_t = F.log_softmax(z_t / tau, dim=-1)
    log_p = F.log_softmax(z_s / tau, dim=-1)
    return tau * tau * (log_t.exp() * (log_t - log_p)).sum() / z_s.shape[0]


def hidden_mse(h_s, h_t, mask, n_real):
    """6. (1/(N C)) sum_{real tokens} sum_c (h_s - h_t)^2, no projection."""
    return (((h_s - h_t) ** 2) * mask[:, :, None]).sum() / (n_real * h_t.shape[-1])


def attention_kl(a_s, a_t, mask, n_real):
    """8. (1/(A N)) sum_{b,h, real i, real j} t_ij (log t_ij - log max(s_ij, 1e-7))."""
    pair = mask[:, None, :, None] * mask[:, None, None, :]
    term = torch.xlogy(a_t, a_t) - a_t * torch.log(a_s.clamp_min(CLAMP))
    return (term * pair).sum() / (a_s.shape[1] * n_real)


def synthetic_pool(args, config, generator):
    pool = []
    for _ in range(args.pool):
        ids = torch.randint(1000, config.vocab_size, (args.batch, args.seq), generator=generator)
        ids[:, 0], ids[:, -1] = 101, 102
        scores = 2.0 * torch.randn(args.batch, config.num_attention_heads, args.seq, args.seq, generator=generator)
        pool.append(dict(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            teacher_logits=2.0 * torch.randn(args.batch, config.num_labels, generator=generator),
            teacher_hidden=torch.randn(args.batch, args.seq, config.hidden_size, generator=generator),
            teacher_attention=torch.softmax(scores, dim=-1),
        ))
    return pool


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=4, help="synthetic teacher batches, cycled")
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--labels", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--tau", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--autocast-bf16", action="store_true", help="forward and losses under torch.autocast(\"cpu\", dtype=torch.bfloat16)")
    parser.add_argument("--json", help="append the result as one JSON line to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = BertConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=512, num_labels=args.labels, hidden_dropout_prob=args.dropout,
                        attention_probs_dropout_prob=args.dropout, attn_implementation="eager")
    model = BertForSequenceClassification(config).train()
    named = list(model.named_parameters())
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    optimizer = torch.optim.AdamW([dict(params=decay, weight_decay=0.01), dict(params=no_decay, weight_decay=0.0)],
                                  lr=args.lr)
    pool = synthetic_pool(args, config, torch.Generator().manual_seed(args.seed + 1))
    def precision():
        return torch.autocast("cpu", dtype=torch.bfloat16) if args.autocast_bf16 else contextlib.nullcontext()

    def step(batch):
        optimizer.zero_grad(set_to_none=True)
        with precision():
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        output_hidden_states=True, output_attentions=True)
            mask = batch["attention_mask"].to(torch.float32)
            n_real = mask.sum()
            loss = (kd_loss(out.logits, batch["teacher_logits"], args.tau)
                    + hidden_mse(out.hidden_states[-1], batch["teacher_hidden"], mask, n_real)
                    + attention_kl(out.attentions[-1], batch["teacher_attention"], mask, n_real))
        loss.backward()
        optimizer.step()
        return loss.item()

    tokens = args.batch * args.seq
    k = 0
    for _ in range(args.warmup):
        step(pool[k % len(pool)])
        k += 1
    rates = []
    for r in range(args.rounds):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            loss = step(pool[k % len(pool)])
            k += 1
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        rates.append(tokens * args.steps / elapsed)
        # CPU seconds per wall second: about --threads when nothing else competes for the cores.
        print(f"  round {r + 1}: {rates[-1]:.0f} tokens/s ({args.steps} steps in {elapsed:.2f} s, "
              f"{cpu / elapsed:.2f} cores busy, loss {loss:.4f})", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    median = statistics.median(rates)
    print(f"pytorch {torch.__version__} train step{' (bf16 autocast)' if args.autocast_bf16 else ''}: batch {args.batch} x seq {args.seq}, {args.threads} threads: "
          f"median {median:.0f} tokens/s over {args.rounds} rounds of {args.steps} steps "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), peak RSS {peak_mib:.0f} MiB")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(dict(bench="train", impl="pytorch", version=torch.__version__, batch=args.batch,
                                    seq=args.seq, threads=args.threads, autocast_bf16=args.autocast_bf16, layers=args.layers, hidden=args.hidden,
                                    heads=args.heads, warmup=args.warmup, steps=args.steps,
                                    tokens_per_s_rounds=[round(x, 1) for x in rates],
                                    median_tokens_per_s=round(median, 1), peak_rss_mib=round(peak_mib, 1),
                                    machine=platform.machine())) + "\n")


if __name__ == "__main__":
    main()
