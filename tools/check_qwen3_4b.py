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
and compares against transformers-bf16: greedy ids identical, or differing only at a step
where transformers' top-2 margin is at most one bf16 unit (NOISE_MARGIN); top-5 logprob
error up to the first divergence at most transformers' own spread on that prompt (its
flash sdpa backend against its default one, same run) plus one bf16 unit (issue 11's
criterion); and the same greedy ids alone, in a batch of 32, from the prefix cache and
after preemption. Exit status 0 only when every prompt passes.

usage: check_qwen3_4b.py --ream-bench BIN --tokenizer-dir DIR --out DIR
           [--model-dir DIR] [--lengths 16,...] [--new-tokens 64]
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

import torch
import transformers
from torch.nn.attention import SDPBackend, sdpa_kernel

NOISE_MARGIN = 0.03125 + 1e-6  # issue 11: a divergence counts as noise where the top-2 margin <= one bf16 unit
LOGPROB_TOL = 0.05  # issue 3's fixed tolerance on top-5 logprobs (reported only)
# One bf16 unit of the logits where they sit (4-8): issue 11 allows greedy divergences where
# transformers' own top-2 margin is at most this, and this much logprob error above
# transformers' own flash-vs-default spread.
BF16_UNIT = 0.03125


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


def reference(model_dir, prompts, new_tokens, dtype=torch.bfloat16, max_len=None, backends=(None,)):
    """Greedy ids, top-5 (and top-20) logprobs and top-2 margins from transformers in `dtype`,
    once per sdpa backend in `backends` (None: transformers' own choice). Returns one list
    of per-prompt results per backend.

    bf16 is transformers as people serve it; fp32 (the bf16 weights upcast, all math in
    fp32) is the exact function both bf16 implementations approximate. The same bf16 model
    with another sdpa backend measures how far transformers is from itself."""
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=dtype, attn_implementation="sdpa").cuda().eval()
    runs = []
    for backend in backends:
        out = []
        for ids in prompts:
            if max_len is not None and len(ids) > max_len:
                out.append(None)
                continue
            x = torch.tensor([ids], device="cuda")
            t0 = time.time()
            with torch.no_grad(), (sdpa_kernel(backend) if backend is not None else contextlib.nullcontext()):
                g = model.generate(x, max_new_tokens=new_tokens, do_sample=False, output_logits=True,
                                   return_dict_in_generate=True, eos_token_id=None, pad_token_id=0)
            torch.cuda.synchronize()
            dt = time.time() - t0
            gen = g.sequences[0, len(ids):].tolist()
            top5, top20, margins = [], [], []
            for step in g.logits:
                lp = torch.log_softmax(step[0].float(), dim=-1)
                v, i = torch.topk(lp, 20)
                top20.append([[int(a), float(b)] for a, b in zip(i.tolist(), v.tolist())])
                top5.append(top20[-1][:5])
                lv, _ = torch.topk(step[0].float(), 2)
                margins.append(float(lv[0] - lv[1]))
            out.append({"ids": gen, "top5": top5, "top20": top20, "margins": margins, "seconds": dt})
            print(f"transformers {dtype} ({backend or 'default sdpa'}): {len(ids)} prompt tokens, {dt:.2f} s",
                  flush=True)
        runs.append(out)
    del model
    torch.cuda.empty_cache()
    return runs


def run_ream(bench, model_dir, prompts, new_tokens, out_dir, concurrent, tag, extra=None):
    req = os.path.join(out_dir, f"requests_{tag}.jsonl")
    res = os.path.join(out_dir, f"ream_{tag}.jsonl")
    with open(req, "w") as f:
        for ids in prompts:
            # 20 alternatives, so each of the reference's top 5 is found among ream's.
            f.write(json.dumps({"prompt_ids": ids, "max_tokens": new_tokens, "top_logprobs": 20}) + "\n")
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
            # A reference top-5 token outside ream's top 20 counts as an unbounded error.
            max_err = max(max_err, abs(mine[tid] - lp) if tid in mine else float("inf"))
    explained = div is not None and ref["margins"][div] <= NOISE_MARGIN
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

    # transformers-bf16 as it runs by default (its sdpa picks cuDNN attention on an H200),
    # and again with sdpa's flash-attention backend: the second run is held to the same
    # criterion as ream, so the report shows how far transformers is from itself.
    ref, ref_flash = reference(a.model_dir, prompts, a.new_tokens, backends=(None, SDPBackend.FLASH_ATTENTION))
    # fp32 attention in transformers materialises the L x L scores (128 GiB at 32K), so the
    # exact reference stops at 8,192 tokens; longer prompts compare with bf16 only.
    exact, = reference(a.model_dir, prompts, a.new_tokens, torch.float32, max_len=8192)
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

    report = {"prompts": [], "noise_margin": NOISE_MARGIN, "bf16_unit": BF16_UNIT, "issue3_logprob_tolerance": LOGPROB_TOL}
    ok = True
    n_pass = n_self_pass = 0
    for n, r, rf, e, s, b, c, p in zip(lengths, ref, ref_flash, exact, solo, batched, cached, preempted):
        # The check: ream against transformers-bf16 in the same run. Both bf16
        # implementations are also measured against the fp32 function, so "bf16 noise" is
        # a measured number rather than an assumption.
        div, explained, err = compare(r, s)
        # transformers (flash sdpa) held to the same criterion against transformers (default).
        tdiv, texplained, terr = compare(r, {"ids": rf["ids"], "top_logprobs": rf["top20"]})
        self_good = (tdiv is None or texplained) and terr <= LOGPROB_TOL
        fp32 = e is not None
        if e is None:
            e = r  # no fp32 run at this length (fp32 sdpa needs L x L scores)
        fdiv, fexplained, ferr = compare(e, s)
        hf_div, hf_explained, hf_err = compare(e, {"ids": r["ids"], "top_logprobs": r["top20"]})
        batch_same = s["ids"] == b["ids"]
        cache_same = (s["ids"] == c["ids"] and c["usage"]["cached"] > 0) or n <= 16
        preempt_same = s["ids"] == p["ids"]
        row = {"prompt_tokens": n,
               "ream_vs_transformers_bf16": {
                   "first_divergence": div, "margin_there": None if div is None else r["margins"][div],
                   "explained_by_margin": explained, "max_top5_logprob_err": err},
               "transformers_flash_vs_transformers_bf16": {
                   "first_divergence": tdiv, "margin_there": None if tdiv is None else r["margins"][tdiv],
                   "explained_by_margin": texplained, "max_top5_logprob_err": terr, "passes": self_good},
               "ream_vs_fp32": None if not fp32 else {
                   "first_divergence": fdiv, "margin_there": None if fdiv is None else e["margins"][fdiv],
                   "explained_by_margin": fexplained, "max_top5_logprob_err": ferr},
               "transformers_bf16_vs_fp32": None if not fp32 else {
                   "first_divergence": hf_div, "explained_by_margin": hf_explained, "max_top5_logprob_err": hf_err},
               "batch_invariant": batch_same, "prefix_cache_same": cache_same, "cached_tokens": c["usage"]["cached"],
               "preempted_same": preempt_same, "transformers_bf16_s": r["seconds"]}
        report["prompts"].append(row)
        # Issue 11's criterion: 64 greedy tokens identical to transformers' or differing only
        # where its top-2 margin is at most one bf16 unit; top-5 logprob error at most
        # transformers' own spread on this prompt (flash vs default sdpa) plus one bf16 unit.
        allowed = terr + BF16_UNIT
        row["logprob_allowed"] = allowed
        good = ((div is None or explained) and err <= allowed
                and batch_same and cache_same and preempt_same)
        ok &= good
        n_pass += good
        n_self_pass += self_good
        fp32_txt = (f" | vs fp32: ream div={fdiv} lp_err={ferr:.4f}, transformers-bf16 div={hf_div} "
                    f"lp_err={hf_err:.4f}") if fp32 else ""
        margin_txt = "" if div is None else f" (margin {r['margins'][div]:.4f})"
        print(f"{n:>6} tokens | vs transformers-bf16: div={div}{margin_txt} lp_err={err:.4f}{fp32_txt} | "
              f"batch={batch_same} cache={cache_same}({c['usage']['cached']}) preempt={preempt_same} "
              f"{'OK' if good else 'FAIL'} (allowed {allowed:.4f}) | transformers-flash vs transformers-bf16: "
              f"div={tdiv} lp_err={terr:.4f} {'OK' if self_good else 'FAIL'} (issue 3's fixed {LOGPROB_TOL})",
              flush=True)
    divs = [row["ream_vs_transformers_bf16"]["first_divergence"] for row in report["prompts"]]
    report["greedy_divergences"] = sum(d is not None for d in divs)
    print(f"greedy ids differ from transformers-bf16 in {report['greedy_divergences']} of {len(divs)} prompts",
          flush=True)
    report["ok"] = ok
    report["prompts_passing"] = n_pass
    report["transformers_flash_prompts_passing"] = n_self_pass
    print(f"issue 11's criterion (error <= transformers' flash-vs-default spread + {BF16_UNIT}): ream passes "
          f"{n_pass} of {len(lengths)} prompts; against issue 3's fixed {LOGPROB_TOL}, transformers' flash backend "
          f"passes {n_self_pass} of {len(lengths)} against its default", flush=True)
    with open(os.path.join(a.out, "check_qwen3_4b.json"), "w") as f:
        json.dump(report, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
