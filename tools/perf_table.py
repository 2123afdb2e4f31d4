#!/usr/bin/env python3
"""Issue 11's performance table from one device run (tools/gpu_verify.sh ... table).

  perf_table.py measure-copy            device-to-device copy rate through PyTorch, as JSON
  perf_table.py render DIR MODEL_DIR    the Markdown table from the files the `table` stage
                                        wrote into DIR (ream_invariant.jsonl, ream_fast.jsonl,
                                        transformers.jsonl, attention.log, copy.json, gpu.txt,
                                        long.jsonl, long_mem.txt); MODEL_DIR sizes the weights

Every figure comes from the same device call; ratios are ream against transformers in it.
The batch-1 decode limit is the card's measured copy rate over the bytes a token reads
(every weight once, the tied LM head included, plus the K/V of the context).
"""
import datetime
import glob
import json
import os
import re
import sys


def measure_copy():
    import torch
    n = 2 << 30  # 2 GiB each way: far past the L2
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    a.random_(0, 255)
    for _ in range(3):
        b.copy_(a)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 10
    start.record()
    for _ in range(reps):
        b.copy_(a)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1e3 / reps
    print(json.dumps({"bytes_per_s": 2 * n / seconds, "note": "bytes read + written"}))


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def find(rows, **want):
    for r in rows:
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def weights_bytes(model_dir):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(model_dir, "*.safetensors")))


def kv_bytes_per_token(model_dir):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    return c["num_hidden_layers"] * 2 * c["num_key_value_heads"] * hd * 2


def attention_rows(path):
    """{tokens: {"mma.sync": TFLOP/s, "wgmma": TFLOP/s, "wgmma_fast": TFLOP/s}} from
    `ream_cuda_bench attention`: the batch-invariant setting (pieces of 256) with the
    default Hopper variant (the one also run with one piece, the fast path's setting)."""
    pat = re.compile(r"attention prefill\s+(\d+) tokens \(chunks of \d+, (pieces of 256|one piece)\), "
                     r"(mma\.sync|wgmma v(\d))[^:]*:\s*([\d.]+) ms/layer,\s*([\d.]+) TFLOP/s")
    found = []
    for line in open(path):
        m = pat.search(line)
        if m:
            found.append((int(m.group(1)), m.group(2) == "one piece", m.group(3), m.group(4), float(m.group(6))))
    default = {v for n, whole, k, v, t in found if whole and v is not None}
    rows = {}
    for n, whole, kernel, v, tflops in found:
        r = rows.setdefault(n, {})
        if kernel == "mma.sync" and not whole:
            r["mma.sync"] = tflops
        elif v is not None and v in default:
            r["wgmma_fast" if whole else "wgmma"] = tflops
    return rows


def fmt(x, unit="", digits=1):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}{unit}"


def verdict(ok):
    return "—" if ok is None else ("yes" if ok else "**no**")


def render(d, model_dir):
    inv = read_jsonl(os.path.join(d, "ream_invariant.jsonl"))
    fast = read_jsonl(os.path.join(d, "ream_fast.jsonl"))
    hf = read_jsonl(os.path.join(d, "transformers.jsonl"))
    long = read_jsonl(os.path.join(d, "long.jsonl"))
    gpu = open(os.path.join(d, "gpu.txt")).read().strip() if os.path.exists(os.path.join(d, "gpu.txt")) else "?"
    copy = json.load(open(os.path.join(d, "copy.json"))) if os.path.exists(os.path.join(d, "copy.json")) else None
    mem = [int(x) for x in open(os.path.join(d, "long_mem.txt")).read().split()] \
        if os.path.exists(os.path.join(d, "long_mem.txt")) else []
    is_h200 = "H200" in gpu
    lines = [f"# ream performance, {datetime.date.today().isoformat()}", "",
             f"Card, memory, driver: {gpu}. Random-weight Qwen3-4B shape, bf16. Every figure from one device call.",
             ""]
    if copy:
        lines.append(f"Measured device-to-device copy rate: {copy['bytes_per_s'] / 1e12:.2f} TB/s (read + written).")
        lines.append("")
    lines += ["| figure | ream, batch-invariant (default) | ream, fast path | transformers | ream's speed / transformers' (default mode) | target | met |",
              "|---|---|---|---|---|---|---|"]

    def prefill_row(n, target_ratio, label):
        a, b = find(inv, mode="prefill", tokens=n), find(fast, mode="prefill", tokens=n)
        if n == 262143 and a is None:
            a = find(long, mode="prefill", tokens=n)
        t = find(hf, mode="prefill", tokens=n)
        ratio = t["seconds"] / a["seconds"] if a and t else None
        ok = None if ratio is None else ratio >= target_ratio
        lines.append(f"| prefill {n:,} tokens | {fmt(a and a['seconds'], ' s', 2)} | {fmt(b and b['seconds'], ' s', 2)} | "
                     f"{fmt(t and t['seconds'], ' s', 2)} | {fmt(ratio, 'x', 2)} | {label} | {verdict(ok)} |")

    prefill_row(4096, 1.0, "at least as fast")
    prefill_row(131072, 1.0 + 1e-9, "faster (goal: 0.8x the time)")
    prefill_row(262143, 1.0 + 1e-9, "faster (goal: 35 s)")
    if mem:
        peak_gib = max(mem) / 1024
        lines.append(f"| peak GPU memory, 262,143 tokens (KV cache sized to the prompt) | {peak_gib:.1f} GiB | | | | "
                     f"<= 52 GiB | {verdict(peak_gib <= 52)} |")
    att = attention_rows(os.path.join(d, "attention.log"))
    for n in sorted(att):
        w, m, f = att[n].get("wgmma"), att[n].get("mma.sync"), att[n].get("wgmma_fast")
        target = "450 TFLOP/s (goal 600 at 128K)" if n >= 32768 else ""
        ok = None if w is None or n < 32768 else w >= 450
        lines.append(f"| attention alone, whole {n:,}-token prompt (one layer) | {fmt(w, ' TFLOP/s')} "
                     f"(Hopper kernel; mma.sync kernel {fmt(m, ' TFLOP/s')}) | {fmt(f, ' TFLOP/s')} | | | {target} | {verdict(ok)} |")
    d1 = find(inv, mode="decode", batch=1, prompt_len=128)
    d1f = find(fast, mode="decode", batch=1, prompt_len=128)
    t1 = find(hf, mode="decode", batch=1)
    limit = None
    if copy:
        per_token = weights_bytes(model_dir) + kv_bytes_per_token(model_dir) * (128 + 128)
        limit = copy["bytes_per_s"] / per_token  # the limit: the copy rate (read + written) over the bytes
    frac = d1["aggregate_tokens_per_s"] / limit if d1 and limit else None
    lines.append(f"| decode batch 1, 128-token prompt | {fmt(d1 and d1['aggregate_tokens_per_s'], ' tok/s')} | "
                 f"{fmt(d1f and d1f['aggregate_tokens_per_s'], ' tok/s')} | {fmt(t1 and t1['aggregate_tokens_per_s'], ' tok/s')} | "
                 f"{fmt(frac and 100 * frac, '% of the limit')} ({fmt(limit, ' tok/s')}) | >= 80% of the limit (goal 90%) | "
                 f"{verdict(None if frac is None else frac >= 0.8)} |")
    d32 = find(inv, mode="decode", batch=32, prompt_len=512)
    d32f = find(fast, mode="decode", batch=32, prompt_len=512)
    t32 = find(hf, mode="decode", batch=32)
    ok32 = None if d32 is None or not is_h200 else d32["aggregate_tokens_per_s"] >= 9000
    lines.append(f"| decode batch 32 (512 + 128) | {fmt(d32 and d32['aggregate_tokens_per_s'], ' tok/s')} | "
                 f"{fmt(d32f and d32f['aggregate_tokens_per_s'], ' tok/s')} | {fmt(t32 and t32['aggregate_tokens_per_s'], ' tok/s')} | | "
                 f">= 9,000 tok/s on an H200 | {verdict(ok32)} |")
    dl = find(inv, mode="decode", batch=1, prompt_len=32768)
    dlf = find(fast, mode="decode", batch=1, prompt_len=32768)
    okl = None if dl is None or not is_h200 else dl["aggregate_tokens_per_s"] >= 270
    lines.append(f"| decode batch 1 at 32K depth | {fmt(dl and dl['aggregate_tokens_per_s'], ' tok/s')} | "
                 f"{fmt(dlf and dlf['aggregate_tokens_per_s'], ' tok/s')} | | | goal >= 270 tok/s on an H200 | {verdict(okl)} |")
    fu = [r for r in inv if r.get("mode") == "followup" and r.get("question", 0) > 0]
    if fu:
        ttft = max(r["seconds"] for r in fu)
        cached = min(r["cached_tokens"] for r in fu)
        lines.append(f"| 16-token question over a cached {fu[0]['prompt_tokens'] - 16:,}-token document, to first token "
                     f"(worst of {len(fu)}; {cached:,} tokens cached) | {fmt(ttft, ' s', 3)} | | no prefix reuse | | <= 0.1 s | "
                     f"{verdict(ttft <= 0.1)} |")
    legal = legal_review_times(os.path.join(d, "legal"))
    if legal.get("one") and any(k.startswith("full-") for k in legal):
        one = legal["one"]
        for name in sorted(k for k in legal if k.startswith("full-")):
            t = legal[name]
            lines.append(f"| legal_review over the longest CUAD contract, 41 categories, replies of {name[5:]} tokens "
                         f"(random weights: every reply runs to its limit), job time | {fmt(t, ' s', 2)} "
                         f"({fmt(t / one, 'x', 2)} one cold prefill of it, {fmt(one, ' s', 2)}) | | | | <= 3x | "
                         f"{verdict(t / one <= 3)} |")
        if legal.get("prefill"):
            lines.append(f"| its 7 prompts' prefill alone (replies of 1 token) | {fmt(legal['prefill'], ' s', 2)} "
                         f"({fmt(legal['prefill'] / one, 'x', 2)} one cold prefill) | | | | | |")
    else:
        lines += ["", "Not measured in this call: legal_review over the longest CUAD contract (it needs "
                  "tools/pack_gpu_run.sh's `ream` and plugins carried in .carry/gpu-run)."]
    return "\n".join(lines) + "\n"


def legal_review_times(d):
    """{run name: seconds from job_started to job_succeeded} of tools/device_run14.sh's
    stores in d (one.db: one category, one prompt over the contract, i.e. one cold prefill
    plus ingestion; prefill.db; full-N.db)."""
    import sqlite3
    out = {}
    for path in glob.glob(os.path.join(d, "*.db")):
        try:
            db = sqlite3.connect(path)
            ev = dict(db.execute("SELECT type, created_at FROM job_events WHERE type IN "
                                 "('job_started', 'job_succeeded')").fetchall())
            db.close()
        except sqlite3.Error:
            continue
        if "job_started" in ev and "job_succeeded" in ev:
            out[os.path.basename(path)[:-3]] = (ev["job_succeeded"] - ev["job_started"]) / 1e3
    return out


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "measure-copy":
        measure_copy()
    elif len(sys.argv) == 4 and sys.argv[1] == "render":
        sys.stdout.write(render(sys.argv[2], sys.argv[3]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
