#!/usr/bin/env python3
"""ream's CUDA engine against transformers on the full Qwen3-4B-Instruct-2507 shape.

transformers runs twice: in bf16 (as it is served) and in fp32 (the same bf16 weights,
all math in fp32: the exact function). ream's errors are reported against both, beside
transformers-bf16's own error against fp32, so "bf16 noise" is measured, not assumed.

Runs on a GPU machine with torch + transformers. Makes a random-weight model with
transformers (36 layers, hidden 2560, 32/8 heads, head_dim 128, vocab 151936, tied,
rope_theta 5e6), saves it as a Hugging Face directory (bf16 safetensors + the real
tokenizer files), then for prompts of several lengths:
  * transformers (bf16, sdpa) generates greedy tokens and their top-5 logprobs;
  * ream_bench runs the same prompts on ream's CUDA backend, alone and batched;
and compares: greedy ids identical, or differing only at a step where transformers'
top-2 margin is below bf16 noise; top-5 logprobs within 0.05 up to the first divergence.

usage: check_qwen3_4b.py --ream-bench BIN --tokenizer-dir DIR --out DIR
           [--model-dir DIR] [--lengths 16,...] [--new-tokens 64]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import transformers

NOISE_MARGIN = 0.1  # top-2 logit margins below this are within bf16 noise for this depth


def qwen3_4b_config():
    return transformers.Qwen3Config(
        vocab_size=151936, hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=262144,
        rms_norm_eps=1e-6, rope_theta=5000000.0, tie_word_embeddings=True, bos_token_id=151643,
        eos_token_id=151645, attention_bias=False, hidden_act="silu")


def make_model(model_dir, tokenizer_dir):
    if os.path.exists(os.path.join(model_dir, "config.json")):
        return
    torch.manual_seed(0)
    cfg = qwen3_4b_config()
    with torch.device("cuda"):
        model = transformers.Qwen3ForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(model_dir, safe_serialization=True, max_shard_size="20GB")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        subprocess.run(["cp", os.path.join(tokenizer_dir, f), model_dir], check=True)
    del model
    torch.cuda.empty_cache()


def reference(model_dir, prompts, new_tokens, dtype=torch.bfloat16, max_len=None):
    """Greedy ids, top-5 logprobs and top-2 margins from transformers in `dtype`.

    bf16 is transformers as people serve it; fp32 (the bf16 weights upcast, all math in
    fp32) is the exact function both bf16 implementations approximate."""
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, attn_implementation="sdpa").cuda().eval()
    out = []
    for ids in prompts:
        if max_len is not None and len(ids) > max_len:
            out.append(None)
            continue
        x = torch.tensor([ids], device="cuda")
        t0 = time.time()
        with torch.no_grad():
            g = model.generate(x, max_new_tokens=new_tokens, do_sample=False, output_logits=True,
                               return_dict_in_generate=True, eos_token_id=None, pad_token_id=0)
        torch.cuda.synchronize()
        dt = time.time() - t0
        gen = g.sequences[0, len(ids):].tolist()
        top5, margins = [], []
        for step in g.logits:
            lp = torch.log_softmax(step[0].float(), dim=-1)
            v, i = torch.topk(lp, 5)
            top5.append([[int(a), float(b)] for a, b in zip(i.tolist(), v.tolist())])
            lv, _ = torch.topk(step[0].float(), 2)
            margins.append(float(lv[0] - lv[1]))
        out.append({"ids": gen, "top5": top5, "margins": margins, "seconds": dt})
        print(f"transformers {dtype}: {len(ids)} prompt tokens, {dt:.2f} s", flush=True)
    del model
    torch.cuda.empty_cache()
    return out


def run_ream(bench, model_dir, prompts, new_tokens, out_dir, concurrent, tag, extra=None):
    req = os.path.join(out_dir, f"requests_{tag}.jsonl")
    res = os.path.join(out_dir, f"ream_{tag}.jsonl")
    with open(req, "w") as f:
        for ids in prompts:
            f.write(json.dumps({"prompt_ids": ids, "max_tokens": new_tokens, "top_logprobs": 5}) + "\n")
    cmd = [bench, "run", "--model", model_dir, "--device", "cuda", "--requests", req, "--out", res]
    if concurrent:
        cmd.append("--concurrent")
    cmd += extra or []
    t0 = time.time()
    subprocess.run(cmd, check=True)
    print(f"ream {tag}: {time.time() - t0:.1f} s (incl. load)", flush=True)
    with open(res) as f:
        return [json.loads(line) for line in f]


def compare(ref, ours):
    """Returns (first divergence or None, whether it is explained by a small margin, max lp error)."""
    div = None
    for i, (a, b) in enumerate(zip(ref["ids"], ours["ids"])):
        if a != b:
            div = i
            break
    upto = div if div is not None else len(ref["ids"])
    max_err = 0.0
    for step in range(upto + (1 if div is not None else 0)):
        if step >= len(ours["top_logprobs"]):
            break
        mine = {t[0]: t[1] for t in ours["top_logprobs"][step]}
        for tid, lp in ref["top5"][step]:
            if tid in mine:
                max_err = max(max_err, abs(mine[tid] - lp))
    explained = div is not None and ref["margins"][div] < NOISE_MARGIN
    return div, explained, max_err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ream-bench", required=True)
    ap.add_argument("--tokenizer-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model-dir", default="/tmp/qwen3-4b-random")
    ap.add_argument("--lengths", default="16,100,1000,2500,4096,8192,16384,32768")
    ap.add_argument("--new-tokens", type=int, default=64)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    make_model(a.model_dir, a.tokenizer_dir)
    g = torch.Generator().manual_seed(1234)
    lengths = [int(x) for x in a.lengths.split(",")]
    prompts = [torch.randint(0, 151643, (n,), generator=g).tolist() for n in lengths]

    ref = reference(a.model_dir, prompts, a.new_tokens)
    # fp32 attention in transformers materialises the L x L scores (128 GiB at 32K), so the
    # exact reference stops at 8,192 tokens; longer prompts compare with bf16 only.
    exact = reference(a.model_dir, prompts, a.new_tokens, torch.float32, max_len=8192)
    solo = run_ream(a.ream_bench, a.model_dir, prompts, a.new_tokens, a.out, False, "solo")
    # Batch invariance: the same 8 prompts inside a batch of 32 (24 short fillers).
    fillers = [torch.randint(0, 151643, (64 + 7 * i,), generator=g).tolist() for i in range(24)]
    batched = run_ream(a.ream_bench, a.model_dir, prompts + fillers, a.new_tokens, a.out, True, "batch32")
    # Prefix cache: the same prompts again in one engine; the second pass reuses blocks.
    cached = run_ream(a.ream_bench, a.model_dir, prompts, a.new_tokens, a.out, False, "cached", ["--twice"])
    # Preemption: all at once in a KV cache too small for them (~40K tokens of 36 layers).
    kv_bytes = 40960 * 36 * 2 * 8 * 128 * 2
    preempted = run_ream(a.ream_bench, a.model_dir, prompts + fillers, a.new_tokens, a.out, True, "preempt",
                         ["--kv-cache-bytes", str(kv_bytes)])

    report = {"prompts": [], "noise_margin": NOISE_MARGIN}
    ok = True
    for n, r, e, s, b, c, p in zip(lengths, ref, exact, solo, batched, cached, preempted):
        # Both bf16 implementations against the fp32 function, and against each other.
        if e is None:
            e = r  # no fp32 run at this length: transformers-bf16 is the reference
        div, explained, err = compare(e, s)
        hf_div, hf_explained, hf_err = compare(e, {"ids": r["ids"], "top_logprobs": r["top5"]})
        vs_hf_div, _, vs_hf_err = compare(r, s)
        batch_same = s["ids"] == b["ids"]
        cache_same = (s["ids"] == c["ids"] and c["usage"]["cached"] > 0) or n <= 16
        preempt_same = s["ids"] == p["ids"]
        row = {"prompt_tokens": n,
               "ream_vs_fp32": {"first_divergence": div, "fp32_margin_there": None if div is None else e["margins"][div],
                                "explained_by_margin": explained, "max_top5_logprob_err": err},
               "transformers_bf16_vs_fp32": {"first_divergence": hf_div, "explained_by_margin": hf_explained,
                                             "max_top5_logprob_err": hf_err},
               "ream_vs_transformers_bf16": {"first_divergence": vs_hf_div, "max_top5_logprob_err": vs_hf_err},
               "batch_invariant": batch_same, "prefix_cache_same": cache_same, "cached_tokens": c["usage"]["cached"],
               "preempted_same": preempt_same, "transformers_bf16_s": r["seconds"]}
        report["prompts"].append(row)
        # ream must be as close to the exact function as transformers' own bf16 path is
        # (or within 0.05), and diverge only where the exact margin is within bf16 noise.
        good = ((div is None or explained) and (err <= 0.05 or err <= hf_err)
                and batch_same and cache_same and preempt_same)
        ok &= good
        print(f"{n:>6} tokens | vs fp32: ream div={div} lp_err={err:.4f}, transformers-bf16 div={hf_div} "
              f"lp_err={hf_err:.4f} | vs transformers-bf16: div={vs_hf_div} lp_err={vs_hf_err:.4f} | "
              f"batch={batch_same} cache={cache_same}({c['usage']['cached']}) preempt={preempt_same} "
              f"{'OK' if good else 'FAIL'}", flush=True)
    report["ok"] = ok
    with open(os.path.join(a.out, "check_qwen3_4b.json"), "w") as f:
        json.dump(report, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
