#!/usr/bin/env python3
"""Where does bf16 noise come from? Step-0 logprobs of the random Qwen3-4B-shape model
under several implementations, compared pairwise (max |diff| over the first's top 5).

  hf          transformers bf16, sdpa (its default kernels)
  hf_noredux  the same with cuBLAS reduced-precision bf16 reductions disallowed
  hf_math     the same with sdpa's math backend
  hf_flash    the same with sdpa forced to flash attention
  hf_cudnn    the same with sdpa forced to cuDNN attention (when it can run)
  emu         a PyTorch model of transformers' bf16 dataflow: fp32 math, exact attention,
              rounded to bf16 exactly where transformers rounds (what ream's CUDA backend does)
  emu_p       emu with the attention probabilities rounded to bf16 before P @ V (as flash
              attention kernels do)
  fp32        transformers in fp32 (the exact function)
  ream        ream_bench on the CUDA backend

usage: probe_bf16_dataflow.py --model-dir DIR --ream-bench BIN --out DIR [--lengths 16,100,1000]
"""
import argparse
import json
import os
import subprocess

import torch
import transformers
from torch.nn.attention import SDPBackend, sdpa_kernel


def prompts_like_check(lengths):
    g = torch.Generator().manual_seed(1234)
    return [torch.randint(0, 151643, (n,), generator=g).tolist() for n in lengths]


def rb(x):
    return x.to(torch.bfloat16).to(torch.float32)


def emulate(sd, cfg, inv, ids, round_p):
    torch.backends.cuda.matmul.allow_tf32 = False
    W = lambda n: sd[n].float()
    eps = cfg.rms_norm_eps

    def norm(x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        return rb(w * rb(x * torch.rsqrt(var + eps)))

    def lin(x, w):
        return rb(x @ w.T)

    T, nh, nkv, hd = len(ids), cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    pos = torch.arange(T, device="cuda", dtype=torch.float32)
    fr = torch.outer(pos, inv)
    emb = torch.cat((fr, fr), -1)
    cos, sin = rb(emb.cos()), rb(emb.sin())

    def rope(x):  # (T, h, hd)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        rot = torch.cat((-x2, x1), -1)
        return rb(rb(x * cos[:, None, :]) + rb(rot * sin[:, None, :]))

    h = rb(W("model.embed_tokens.weight")[torch.tensor(ids, device="cuda")])
    mask = torch.full((T, T), float("-inf"), device="cuda").triu(1)
    for l in range(cfg.num_hidden_layers):
        p = f"model.layers.{l}."
        x = norm(h, W(p + "input_layernorm.weight"))
        q = norm(lin(x, W(p + "self_attn.q_proj.weight")).view(T, nh, hd), W(p + "self_attn.q_norm.weight"))
        k = norm(lin(x, W(p + "self_attn.k_proj.weight")).view(T, nkv, hd), W(p + "self_attn.k_norm.weight"))
        v = lin(x, W(p + "self_attn.v_proj.weight")).view(T, nkv, hd)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) * hd ** -0.5 + mask
        m = s.amax(-1, keepdim=True)
        e = torch.exp(s - m)
        den = e.sum(-1, keepdim=True)
        pm = rb(e) if round_p else e
        o = rb(torch.einsum("hts,shd->thd", pm, v) / den.transpose(0, 1))
        h = rb(h + lin(o.reshape(T, nh * hd), W(p + "self_attn.o_proj.weight")))
        x = norm(h, W(p + "post_attention_layernorm.weight"))
        g = lin(x, W(p + "mlp.gate_proj.weight"))
        u = lin(x, W(p + "mlp.up_proj.weight"))
        a = rb(rb(torch.nn.functional.silu(g)) * u)
        h = rb(h + lin(a, W(p + "mlp.down_proj.weight")))
    x = norm(h[-1:], W("model.norm.weight"))
    head = sd.get("lm_head.weight", sd["model.embed_tokens.weight"]).float()
    return torch.log_softmax(rb(x @ head.T)[0], -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--ream-bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lengths", default="16,100,1000")
    a = ap.parse_args()
    lengths = [int(x) for x in a.lengths.split(",")]
    prompts = prompts_like_check(lengths)
    res = {}  # name -> list of logprob vectors (or dict id -> lp for ream)

    model = transformers.AutoModelForCausalLM.from_pretrained(
        a.model_dir, dtype=torch.bfloat16, attn_implementation="sdpa").cuda().eval()

    def hf_run(tag):
        with torch.no_grad():
            res[tag] = [torch.log_softmax(model(torch.tensor([ids], device="cuda")).logits[0, -1].float(), -1)
                        for ids in prompts]

    hf_run("hf")
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    hf_run("hf_noredux")
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = True
    with sdpa_kernel(SDPBackend.MATH):
        hf_run("hf_math")
    for tag, backend in (("hf_flash", SDPBackend.FLASH_ATTENTION), ("hf_cudnn", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel(backend):
                hf_run(tag)
        except RuntimeError as e:  # a backend that cannot run these shapes (GQA) here
            print(f"{tag}: not available ({str(e).splitlines()[0]})")
    sd = {k: v for k, v in model.state_dict().items()}
    cfg = model.config
    inv = model.model.rotary_emb.inv_freq.float().cuda()  # transformers' own inv_freq
    with torch.no_grad():
        res["emu"] = [emulate(sd, cfg, inv, ids, False) for ids in prompts]
        res["emu_p"] = [emulate(sd, cfg, inv, ids, True) for ids in prompts]
    del model, sd
    torch.cuda.empty_cache()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        a.model_dir, dtype=torch.float32, attn_implementation="sdpa").cuda().eval()
    torch.backends.cuda.matmul.allow_tf32 = False
    hf_run("fp32")
    del model
    torch.cuda.empty_cache()

    req = os.path.join(a.out, "probe_requests.jsonl")
    with open(req, "w") as f:
        for ids in prompts:
            f.write(json.dumps({"prompt_ids": ids, "max_tokens": 1, "top_logprobs": 20}) + "\n")
    out = os.path.join(a.out, "probe_ream.jsonl")
    subprocess.run([a.ream_bench, "run", "--model", a.model_dir, "--device", "cuda", "--requests", req,
                    "--out", out], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        res["ream"] = [{t[0]: t[1] for t in json.loads(line)["top_logprobs"][0]} for line in f]

    def lp(name, i, tid):
        v = res[name][i]
        return v.get(tid, float("-inf")) if isinstance(v, dict) else float(v[tid])

    names = list(res)
    table = {}
    for i, n in enumerate(lengths):
        for x in names:
            if x == "ream":
                continue
            top = torch.topk(res[x][i], 5).indices.tolist()
            for y in names:
                if y == x:
                    continue
                d = max(abs(lp(x, i, t) - lp(y, i, t)) for t in top)
                table.setdefault(f"{x} vs {y}", []).append(round(d, 4))
    print("max |logprob diff| over the first's top 5, prompts of", lengths)
    for k, v in table.items():
        print(f"{k:>24}: {v}")
    with open(os.path.join(a.out, "probe_bf16_dataflow.json"), "w") as f:
        json.dump({"lengths": lengths, "pairs": table}, f, indent=1)


if __name__ == "__main__":
    main()
