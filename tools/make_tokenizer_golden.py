#!/usr/bin/env python3
"""Golden files for ream's tokenizer and chat template, produced by Hugging Face.

Runs where `tokenizers` and `transformers` are installed (the H200 machine). Writes
into --out:
  tokenizer_golden.jsonl  one JSON object per line:
      encode entries  {"name", "text" | ("shared_path", "byte_len"), "ids", "decoded",
                       "decoded_skip_special", "parse_special", ...}
      decode entries  {"name", "kind": "decode", "ids", "decoded", "decoded_skip_special"}
  chat_golden.jsonl       {"name", "messages", "add_generation_prompt", "text", "ids"}
  summary.json            counts, library versions and every disagreement found.

The reference is `tokenizers.Tokenizer.from_file(tokenizer.json)`; transformers'
AutoTokenizer is checked against it and any difference is recorded in the entry
("transformers_ids", "transformers_decoded") and in summary.json.

Texts from the CUAD contracts are not copied: an entry names the file relative
to --shared-data and how many bytes of it were encoded. tests/data/documents holds
exactly the contracts these entries name (the tests read them from there), so
`--shared-data tests/data/documents` gives the same entries as the larger corpus.

`--dump-corpus FILE` writes only the corpus texts (JSON lines) and needs neither
library; it is for checking the corpus on machines without them.
"""

import argparse
import hashlib
import json
import os
import random
import sys

from tokenizer_golden_corpus import NO_SPECIAL, build_corpus, chat_corpus

CUAD_DIR = "cuad/contracts"
LONG_CONTRACT = "CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.txt"
SNIPPET_CHARS = 20000


def shared_entries(shared_root):
    """[(name, relative path, text)] for three contract prefixes and one whole contract."""
    cdir = os.path.join(shared_root, CUAD_DIR)
    if not os.path.isdir(cdir):
        raise SystemExit("error: %s is not a directory (pass --shared-data)" % cdir)
    names = sorted(n for n in os.listdir(cdir) if n.endswith(".txt") and n != LONG_CONTRACT)
    out = []
    for n in names:
        if len(out) == 3:
            break
        with open(os.path.join(cdir, n), "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            print("skipping %s: not UTF-8" % n)
            continue
        out.append(("cuad_prefix_%d" % len(out), os.path.join(CUAD_DIR, n), text[:SNIPPET_CHARS]))
    path = os.path.join(cdir, LONG_CONTRACT)
    if not os.path.isfile(path):
        raise SystemExit("error: %s not found" % path)
    with open(path, "rb") as f:
        out.append(("cuad_whole", os.path.join(CUAD_DIR, LONG_CONTRACT), f.read().decode("utf-8")))
    return out


# ------------------------------------------------------------------------ generation

def as_id_list(result):
    """apply_chat_template(tokenize=True) may give a list, a nested list or a dict."""
    if hasattr(result, "keys") and "input_ids" in result:
        result = result["input_ids"]
    if hasattr(result, "tolist"):
        result = result.tolist()
    result = list(result)
    if result and isinstance(result[0], (list, tuple)):
        if len(result) != 1:
            raise ValueError("expected one sequence, got %d" % len(result))
        result = list(result[0])
    return [int(x) for x in result]


def tf_encode(tf_tok, text, parse_special):
    if parse_special:
        return list(tf_tok.encode(text, add_special_tokens=False))
    return list(tf_tok.encode(text, add_special_tokens=False, split_special_tokens=True))


def encode_entry(hf, tf_tok, name, text, parse_special, problems):
    if not parse_special:
        hf.encode_special_tokens = True
    try:
        ids = hf.encode(text, add_special_tokens=False).ids
    finally:
        if not parse_special:
            hf.encode_special_tokens = False
    entry = {"name": name, "parse_special": parse_special, "ids": ids,
             "decoded": hf.decode(ids, skip_special_tokens=False),
             "decoded_skip_special": hf.decode(ids, skip_special_tokens=True)}
    if tf_tok is None:
        return entry
    try:
        tf_ids = tf_encode(tf_tok, text, parse_special)
        tf_dec = tf_tok.decode(ids, skip_special_tokens=False)
    except Exception as e:  # record, do not stop
        problems.append({"name": name, "transformers_error": repr(e)})
        return entry
    if tf_ids != ids:
        entry["transformers_ids"] = tf_ids
        problems.append({"name": name, "what": "transformers ids differ"})
    if tf_dec != entry["decoded"]:
        entry["transformers_decoded"] = tf_dec
        problems.append({"name": name, "what": "transformers decode differs"})
    return entry


def decode_entries(hf, rng):
    """Id sequences that need U+FFFD repair or skip special tokens."""
    seqs = []
    # U+2A6A5 (a rare ideograph) takes several byte-level tokens.
    rare = hf.encode("\U0002A6A5\u4e2d", add_special_tokens=False).ids
    seqs.append(("decode_partial_char_head", rare[:1]))
    seqs.append(("decode_partial_char_tail", rare[1:]))
    seqs.append(("decode_reversed", list(reversed(rare))))
    # A special token inside a character: skip_special decides whether the bytes rejoin.
    seqs.append(("decode_special_inside_char", rare[:1] + [151645] + rare[1:]))
    seqs.append(("decode_think_inside_char", rare[:1] + [151667] + rare[1:]))
    byte_tokens = [hf.token_to_id(c) for c in ["\u00e2", "\u0124", "\u00a2", "\u00f0", "\u0141"]]
    seqs.append(("decode_raw_bytes", [i for i in byte_tokens if i is not None]))
    seqs.append(("decode_specials", [151644, 872, 198, 151645, 151643, 151667, 151668]))
    seqs.append(("decode_empty", []))
    for k in range(20):
        seqs.append(("decode_random_%02d" % k, [rng.randrange(0, 151669) for _ in range(rng.randint(1, 25))]))
    out = []
    for name, ids in seqs:
        out.append({"name": name, "kind": "decode", "ids": ids,
                    "decoded": hf.decode(ids, skip_special_tokens=False),
                    "decoded_skip_special": hf.decode(ids, skip_special_tokens=True)})
    return out


def chat_entries(tf_tok, hf, problems):
    out = []
    for name, msgs, gen in chat_corpus():
        text = tf_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
        ids = as_id_list(tf_tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=gen))
        direct = hf.encode(text, add_special_tokens=False).ids
        entry = {"name": name, "messages": msgs, "add_generation_prompt": gen, "text": text, "ids": ids}
        if direct != ids:
            entry["tokenizers_ids"] = direct
            problems.append({"name": name, "what": "chat ids differ from tokenizers.encode(text)"})
        out.append(entry)
    return out


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer-dir", required=True)
    ap.add_argument("--shared-data", help="root of the shared data (holds cuad/contracts)")
    ap.add_argument("--out")
    ap.add_argument("--dump-corpus", help="write the corpus texts as JSON lines and exit")
    args = ap.parse_args()

    corpus = build_corpus()
    if args.dump_corpus:
        write_jsonl(args.dump_corpus, [{"name": n, "text": t} for n, t in corpus])
        print("wrote %d texts to %s" % (len(corpus), args.dump_corpus))
        return 0
    if not args.out or not args.shared_data:
        ap.error("--out and --shared-data are required")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the device has no network
    import tokenizers
    import transformers
    hf = tokenizers.Tokenizer.from_file(os.path.join(args.tokenizer_dir, "tokenizer.json"))
    problems = []
    try:
        tf_tok = transformers.AutoTokenizer.from_pretrained(args.tokenizer_dir)
    except Exception as e:  # keep the tokenizers goldens; the chat goldens need transformers
        print("error: transformers.AutoTokenizer failed: %r" % (e,))
        problems.append({"what": "AutoTokenizer failed", "error": repr(e)})
        tf_tok = None
    os.makedirs(args.out, exist_ok=True)
    rows = []
    has_split_special = hasattr(hf, "encode_special_tokens")
    if not has_split_special:
        problems.append({"what": "tokenizers has no encode_special_tokens; *_nospecial entries left out"})
    for name, text in corpus:
        e = encode_entry(hf, tf_tok, name, text, True, problems)
        rows.append(dict(e, text=text))
        if name in NO_SPECIAL and has_split_special:
            e = encode_entry(hf, tf_tok, name + "_nospecial", text, False, problems)
            rows.append(dict(e, text=text))
    for name, rel, text in shared_entries(args.shared_data):
        e = encode_entry(hf, tf_tok, name, text, True, problems)
        e["shared_path"] = rel
        e["byte_len"] = len(text.encode("utf-8"))
        e["decoded_equals_text"] = e["decoded"] == text
        e["text_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        for k in ("decoded", "decoded_skip_special", "transformers_decoded"):
            e.pop(k, None)  # the text itself stays in the shared data
        rows.append(e)
    rows += decode_entries(hf, random.Random(7))
    write_jsonl(os.path.join(args.out, "tokenizer_golden.jsonl"), rows)
    chats = chat_entries(tf_tok, hf, problems) if tf_tok is not None else []
    if chats:
        write_jsonl(os.path.join(args.out, "chat_golden.jsonl"), chats)

    summary = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
               "tokenizer_entries": len(rows), "chat_entries": len(chats),
               "total_ids": sum(len(r["ids"]) for r in rows), "problems": problems}
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    print("tokenizers %s, transformers %s" % (tokenizers.__version__, transformers.__version__))
    print("tokenizer_golden.jsonl: %d entries, %d ids" % (len(rows), summary["total_ids"]))
    print("chat_golden.jsonl: %d conversations" % len(chats))
    print("disagreements between transformers and tokenizers: %d" % len(problems))
    for p in problems[:20]:
        print("  ", p)
    if not chats:
        print("error: no chat goldens written (transformers unavailable)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
