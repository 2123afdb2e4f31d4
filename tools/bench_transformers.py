#!/usr/bin/env python3
"""transformers on the same GPU, the peer ream's benchmarks are measured beside.

Prefill: one forward over N random tokens (logits for the last position only, as a
server needs), bf16, sdpa attention. Decode: greedy generate of T tokens at batch B
after a short prompt (static KV cache not forced; transformers' default generate).
Prints one JSON object per measurement.

usage: bench_transformers.py --model-dir DIR [--prefill 4096,131072] [--decode-batches 1,32]
                             [--decode-prompt-lens 128,512] [--new-tokens 128]
"""
import argparse
import json
import time

import torch
import transformers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--prefill", default="4096,32768,131072")
    ap.add_argument("--decode-batches", default="1,32")
    ap.add_argument("--decode-prompt-lens", default="", help="prompt length per decode batch (default 128 each)")
    ap.add_argument("--new-tokens", type=int, default=128)
    a = ap.parse_args()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        a.model_dir, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for n in [int(x) for x in a.prefill.split(",") if x]:
            x = torch.randint(0, 151643, (1, n), generator=g).cuda()
            model(x[:, :128], logits_to_keep=1)  # warm-up
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            t0 = time.time()
            model(x, logits_to_keep=1)
            torch.cuda.synchronize()
            dt = time.time() - t0
            print(json.dumps({"peer": "transformers", "mode": "prefill", "tokens": n, "seconds": dt,
                              "tokens_per_s": n / dt,
                              "peak_gib": torch.cuda.max_memory_allocated() / 2**30}), flush=True)
        batches = [int(x) for x in a.decode_batches.split(",") if x]
        lens = [int(x) for x in a.decode_prompt_lens.split(",") if x] or [128] * len(batches)
        for b, plen in zip(batches, lens):
            x = torch.randint(0, 151643, (b, plen), generator=g).cuda()
            model.generate(x, max_new_tokens=4, do_sample=False, pad_token_id=0)
            torch.cuda.synchronize()
            t0 = time.time()
            model.generate(x, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens, do_sample=False,
                           pad_token_id=0, eos_token_id=None)
            torch.cuda.synchronize()
            dt = time.time() - t0
            print(json.dumps({"peer": "transformers", "mode": "decode", "batch": b, "prompt_len": plen,
                              "new_tokens": a.new_tokens,
                              "seconds": dt, "aggregate_tokens_per_s": b * a.new_tokens / dt}), flush=True)


if __name__ == "__main__":
    main()
