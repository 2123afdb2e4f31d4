#!/usr/bin/env python3
"""Golden checkpoints and greedy generations for ream's Qwen3 loader and forward pass.

Runs where torch and transformers are installed (the H200 machine; no network needed).
Builds tiny random Qwen3ForCausalLM models with transformers itself, saves them with
save_pretrained, reloads each from disk in fp32 (so the reference uses exactly the
bytes ream will read, bf16-rounded where the file is bf16) and runs greedy decoding
with the KV cache. Writes into --out:

  <model_name>/           the Hugging Face files (config.json, model.safetensors or
                          shards + model.safetensors.index.json, generation_config.json)
  goldens.json            {"models": [{"name", "dialect", "dtype", "tied", "sharded",
                            "config": {...}, "prompts": [{"prompt_ids", "generated_ids",
                            "top5": [[[id, logprob] x5] per step], "margins": [...]}]}],
                           "versions": {...}}

Per step, "top5" is the five best (token id, log_softmax of that step's logits) and
"margins" is logit(top1) - logit(top2): a C++ test should only demand the same greedy
choice where the margin is clearly above its numerical tolerance.

Model shapes cover: tied and untied heads, GQA 1:1, 2:1 and 4:1, head_dim != hidden /
heads, rope_theta 1e4 / 1e6 / 5e6, bf16 storage and a sharded checkpoint. Two models
have their config.json rewritten into the transformers 4.x dialect (top-level
rope_theta, rope_scaling null, torch_dtype).

Usage: python3 tools/make_model_goldens.py --out tests/data/model_goldens
"""

import argparse
import copy
import json
import os
import shutil
import sys

import torch

VOCAB = 512
NEW_TOKENS = 24
PROMPT_LENGTHS = (5, 40, 130)
TOP_K = 5
RMS_EPS = 1e-6
MAX_POS = 2048

# name, seed, hidden, intermediate, layers, heads, kv heads, head_dim, tied, rope_theta,
# storage dtype, config dialect, sharded.
MODELS = [
    dict(name="a_tied_mha_hd16", seed=11, hidden=64, inter=96, layers=2, heads=4, kv=4,
         head_dim=16, tied=True, theta=1e6, dtype="float32", dialect="v5", sharded=False),
    dict(name="b_untied_gqa2_hd32", seed=12, hidden=64, inter=128, layers=2, heads=4, kv=2,
         head_dim=32, tied=False, theta=1e6, dtype="float32", dialect="v4", sharded=False),
    dict(name="c_tied_gqa4_theta5e6", seed=13, hidden=64, inter=96, layers=3, heads=8, kv=2,
         head_dim=16, tied=True, theta=5e6, dtype="float32", dialect="v5", sharded=False),
    dict(name="d_untied_gqa2_bf16", seed=14, hidden=64, inter=128, layers=2, heads=4, kv=2,
         head_dim=16, tied=False, theta=1e4, dtype="bfloat16", dialect="v4", sharded=False),
    dict(name="e_sharded", seed=15, hidden=64, inter=96, layers=3, heads=4, kv=2,
         head_dim=16, tied=False, theta=1e6, dtype="float32", dialect="v5", sharded=True),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (created; model folders replaced)")
    p.add_argument("--device", default="cpu", help="torch device for the reference (default cpu)")
    return p.parse_args()


# ----------------------------------------------------------------------------- models

def make_config(spec):
    """A Qwen3Config for `spec`, with eager attention and unscaled RoPE."""
    from transformers import Qwen3Config

    kwargs = dict(
        vocab_size=VOCAB, hidden_size=spec["hidden"], intermediate_size=spec["inter"],
        num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"],
        num_key_value_heads=spec["kv"], head_dim=spec["head_dim"],
        max_position_embeddings=MAX_POS, rms_norm_eps=RMS_EPS,
        tie_word_embeddings=spec["tied"], use_sliding_window=False,
        attention_bias=False, hidden_act="silu",
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
        rope_parameters={"rope_type": "default", "rope_theta": spec["theta"]},
    )
    config = Qwen3Config(**kwargs)
    # transformers 4.x ignores rope_parameters: fall back to its rope_theta field.
    if rope_theta_of(config) != spec["theta"]:
        config.rope_theta = spec["theta"]
    if rope_theta_of(config) != spec["theta"]:
        raise SystemExit(f"{spec['name']}: could not set rope_theta on this transformers version")
    try:
        config._attn_implementation = "eager"
    except (AttributeError, ValueError):
        pass  # the reference is reloaded with attn_implementation="eager" anyway
    return config


def rope_theta_of(config):
    params = getattr(config, "rope_parameters", None)
    if isinstance(params, dict) and "rope_theta" in params:
        return float(params["rope_theta"])
    return float(getattr(config, "rope_theta", float("nan")))


@torch.no_grad()
def init_weights(model, seed):
    """Linear and embedding weights ~ N(0, 0.02^2); RMSNorm weights 1 + 0.1 N(0, 1), so
    a loader or kernel that ignores a norm weight gives visibly different logits.
    Tied parameters appear once in named_parameters and are drawn once."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            values = 1.0 + 0.1 * torch.randn(p.shape, generator=g)
        else:
            values = 0.02 * torch.randn(p.shape, generator=g)
        p.copy_(values.to(p.dtype))


def build_model(spec):
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(spec["seed"])
    config = make_config(spec)
    model = Qwen3ForCausalLM(config).to(torch.float32).eval()
    init_weights(model, spec["seed"])
    if spec["tied"]:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "head not tied"
    else:
        assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    return model


@torch.no_grad()
def round_params_to_bf16(model):
    """Rounds the parameters, not the buffers: casting the whole module would also round
    RoPE's inv_freq, which transformers keeps in fp32 and never stores."""
    for p in model.parameters():
        p.copy_(p.to(torch.bfloat16).to(torch.float32))


def save_model(model, spec, out_dir):
    """save_pretrained in the storage dtype; the sharded model gets small shards."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    to_save = model
    if spec["dtype"] == "bfloat16":
        to_save = copy.deepcopy(model).to(torch.bfloat16)
    kwargs = dict(safe_serialization=True)
    if spec["sharded"]:
        kwargs["max_shard_size"] = "150KB"
    to_save.save_pretrained(out_dir, **kwargs)
    index = os.path.join(out_dir, "model.safetensors.index.json")
    if spec["sharded"] != os.path.exists(index):
        raise SystemExit(f"{spec['name']}: expected sharded={spec['sharded']}, index.json exists={os.path.exists(index)}")
    if os.path.exists(os.path.join(out_dir, "pytorch_model.bin")):
        raise SystemExit(f"{spec['name']}: saved a .bin instead of safetensors")


def rewrite_config(out_dir, spec):
    """Normalises config.json: v5 keeps what save_pretrained wrote (plus the storage
    dtype); v4 moves rope_theta to the top level, sets rope_scaling null and torch_dtype,
    and drops rope_parameters, dtype and layer_types."""
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    theta = spec["theta"]
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict) and "rope_theta" in rp:
        theta = rp["rope_theta"]
    if float(theta) != spec["theta"]:
        raise SystemExit(f"{spec['name']}: saved rope_theta {theta} != {spec['theta']}")
    if spec["dialect"] == "v5":
        cfg["dtype"] = spec["dtype"]
        cfg.pop("torch_dtype", None)
    else:
        for key in ("rope_parameters", "dtype", "layer_types"):
            cfg.pop(key, None)
        cfg["rope_theta"] = theta
        cfg["rope_scaling"] = None
        cfg["torch_dtype"] = spec["dtype"]
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    return cfg


def load_from_disk(out_dir, device):
    """Reloads the saved checkpoint in fp32: the reference sees exactly the stored bytes."""
    from transformers import Qwen3ForCausalLM

    common = dict(attn_implementation="eager", local_files_only=True)
    try:
        model = Qwen3ForCausalLM.from_pretrained(out_dir, dtype=torch.float32, **common)
    except TypeError:  # transformers 4.x spells it torch_dtype
        model = Qwen3ForCausalLM.from_pretrained(out_dir, torch_dtype=torch.float32, **common)
    model = model.to(device).eval()
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32, f"{name} is {p.dtype}"
    return model


# ----------------------------------------------------------------------------- reference

@torch.no_grad()
def greedy(model, prompt_ids, device):
    """Greedy decoding with the KV cache: one full forward over the prompt, then one
    token at a time. Returns generated ids, per-step top-5 (id, logprob) and margins."""
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    logits = out.logits[0, -1].float()
    generated, top5, margins = [], [], []
    for step in range(NEW_TOKENS):
        logprobs = torch.log_softmax(logits, dim=-1)
        best = torch.topk(logits, TOP_K)
        next_id = int(best.indices[0])
        generated.append(next_id)
        top5.append([[int(i), round(float(logprobs[i]), 6)] for i in best.indices])
        margins.append(round(float(best.values[0] - best.values[1]), 6))
        if step + 1 == NEW_TOKENS:
            break
        step_ids = torch.tensor([[next_id]], dtype=torch.long, device=device)
        out = model(input_ids=step_ids, past_key_values=past, use_cache=True)
        past = out.past_key_values
        logits = out.logits[0, -1].float()
    return generated, top5, margins


@torch.no_grad()
def check_against_full_forward(model, prompt_ids, generated, device, name):
    """The cached path must agree with one uncached forward over the whole sequence."""
    seq = prompt_ids + generated[:-1]
    ids = torch.tensor([seq], dtype=torch.long, device=device)
    logits = model(input_ids=ids, use_cache=False).logits[0].float()
    full_choice = logits[len(prompt_ids) - 1:].argmax(dim=-1).tolist()
    if full_choice != generated:
        diff = [i for i, (a, b) in enumerate(zip(full_choice, generated)) if a != b]
        print(f"  WARNING {name}: cached and uncached greedy choices differ at steps {diff}", file=sys.stderr)
        return False
    return True


@torch.no_grad()
def max_logit_diff(a, b, prompt_ids, device):
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    return float((a(input_ids=ids).logits - b(input_ids=ids).logits).abs().max())


def draw_prompts(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (n,), generator=g).tolist() for n in PROMPT_LENGTHS]


def config_summary(spec):
    return {"vocab_size": VOCAB, "hidden_size": spec["hidden"], "intermediate_size": spec["inter"],
            "num_hidden_layers": spec["layers"], "num_attention_heads": spec["heads"],
            "num_key_value_heads": spec["kv"], "head_dim": spec["head_dim"],
            "tie_word_embeddings": spec["tied"], "rope_theta": spec["theta"],
            "rms_norm_eps": RMS_EPS, "max_position_embeddings": MAX_POS}


def make_one(spec, out_root, device):
    out_dir = os.path.join(out_root, spec["name"])
    model = build_model(spec)
    save_model(model, spec, out_dir)
    rewrite_config(out_dir, spec)
    ref = load_from_disk(out_dir, device)

    prompts = draw_prompts(1000 + spec["seed"])
    # The reloaded model (and, for v4 configs, transformers' reading of that dialect)
    # must agree with the in-memory one; bf16 storage is allowed its rounding.
    in_memory = copy.deepcopy(model)
    if spec["dtype"] == "bfloat16":
        round_params_to_bf16(in_memory)
    in_memory = in_memory.to(device).eval()
    diff = max_logit_diff(in_memory, ref, prompts[1], device)
    if diff > 1e-4:
        if spec["dialect"] != "v4":
            raise SystemExit(f"{spec['name']}: reloaded model differs from the saved one by {diff}")
        # transformers misread the 4.x dialect: keep the model as built (its rope_theta is
        # the one config.json states) as the reference, and say so.
        print(f"  WARNING {spec['name']}: transformers reads the rewritten 4.x config.json differently "
              f"(max logit diff {diff:.3e}); using the in-memory model as the reference", file=sys.stderr)
        ref = in_memory

    entries, min_margin, consistent = [], float("inf"), True
    for prompt in prompts:
        generated, top5, margins = greedy(ref, prompt, device)
        consistent &= check_against_full_forward(ref, prompt, generated, device, spec["name"])
        min_margin = min(min_margin, min(margins))
        entries.append({"prompt_ids": prompt, "generated_ids": generated, "top5": top5, "margins": margins})
    files = sorted(os.listdir(out_dir))
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in files)
    print(f"{spec['name']:24s} dialect={spec['dialect']} dtype={spec['dtype']:8s} tied={spec['tied']!s:5s} "
          f"files={len(files)} bytes={size} reload_diff={diff:.2e} min_margin={min_margin:.4f} "
          f"cache_consistent={consistent}")
    return {"name": spec["name"], "dialect": spec["dialect"], "dtype": spec["dtype"], "tied": spec["tied"],
            "sharded": spec["sharded"], "config": config_summary(spec), "prompts": entries}, size


def main():
    args = parse_args()
    import transformers

    torch.set_float32_matmul_precision("highest")  # no TF32: the reference is fp32
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, device {args.device}")

    models, total = [], 0
    for spec in MODELS:
        entry, size = make_one(spec, args.out, args.device)
        models.append(entry)
        total += size
    goldens = {"models": models,
               "generation": {"new_tokens": NEW_TOKENS, "top_k": TOP_K, "greedy": True, "kv_cache": True,
                              "attn_implementation": "eager", "compute_dtype": "float32"},
               "versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    path = os.path.join(args.out, "goldens.json")
    with open(path, "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
        f.write("\n")
    total += os.path.getsize(path)
    print(f"wrote {len(models)} models, {sum(len(m['prompts']) for m in models)} prompts to {args.out} "
          f"({total / 1e6:.2f} MB)")
    if total > 3.5e6:
        print("WARNING: output is larger than ~3 MB", file=sys.stderr)


if __name__ == "__main__":
    main()
