#!/usr/bin/env python3
"""Peer runtimes for scripts/bench: fintag's own weights (exported with
`fintag model export-npz`) run by Hugging Face transformers (PyTorch, CPU) or by
onnxruntime (ONNX fp32), with the same tokenizer, the same 510/128-token windows and the
same length-bucketed batching. Writes per-token decisions (entity BIO tag, PROMO yes/no) as
JSONL, so the runtimes can be compared token by token with `fintag model tags`."""
import argparse
import json
import os
import sys
import time

import numpy as np


def windows(n, max_tokens=510, overlap=128):
    stride = max(max_tokens - min(overlap, max_tokens - 1), 1)
    out, start = [], 0
    while True:
        end = min(start + max_tokens, n)
        out.append((start, end))
        if end >= n:
            return out
        start += stride


def owners(ranges, n):
    own = [0] * n
    for w, (s, e) in enumerate(ranges):
        lo = s if w == 0 else (s + ranges[w - 1][1] + 1) // 2
        hi = (ranges[w + 1][0] + e + 1) // 2 if w + 1 < len(ranges) else e
        for t in range(lo, min(hi, n)):
            own[t] = w
    return own


def build_torch(weights):
    import torch
    from transformers import BertConfig, BertModel

    w = np.load(weights)
    vocab, hidden = w["embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in w.files if k.startswith("encoder.layer."))
    cfg = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=hidden // 32, intermediate_size=4 * hidden,
                     max_position_embeddings=w["embeddings.position_embeddings.weight"].shape[0],
                     type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu")
    model = BertModel(cfg, add_pooling_layer=False)
    state = {k: torch.from_numpy(w[k]) for k in w.files if not k.startswith("heads.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing or unexpected:
        sys.exit(f"weights do not fit BertModel: missing {missing}, unexpected {unexpected}")

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = model
            self.entity = torch.nn.Linear(hidden, w["heads.entity.weight"].shape[0])
            self.promo = torch.nn.Linear(hidden, 3)
            with torch.no_grad():
                for name in ("entity", "promo"):
                    getattr(self, name).weight.copy_(torch.from_numpy(w[f"heads.{name}.weight"]))
                    getattr(self, name).bias.copy_(torch.from_numpy(w[f"heads.{name}.bias"]))

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.entity(h), self.promo(h)

    return Tagger().eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["transformers", "onnx"], required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--onnx-file", default="target/bench/fintag.onnx")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch-tokens", type=int, default=1024)
    ap.add_argument("--promo-threshold", type=float, default=0.5,
                    help="a token is promotional when P(B) + P(I) exceeds this (fintag: the model's promo_threshold_flagged)")
    a = ap.parse_args()

    import torch
    from tokenizers import Tokenizer

    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(a.tokenizer)
    bos, eos, pad = tok.token_to_id("<s>"), tok.token_to_id("</s>"), tok.token_to_id("<pad>")
    model = build_torch(a.weights)
    if a.engine == "onnx":
        import onnxruntime as ort
        if not os.path.exists(a.onnx_file):
            ids = torch.tensor([[bos, 100, 200, eos]])
            torch.onnx.export(model, (ids, torch.ones_like(ids)), a.onnx_file, opset_version=14,
                              input_names=["input_ids", "attention_mask"], output_names=["entity", "promo"],
                              dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                            "entity": {0: "b", 1: "t"}, "promo": {0: "b", 1: "t"}})
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx_file, so, providers=["CPUExecutionProvider"])

        def run(ids, mask):
            e, p = sess.run(None, {"input_ids": ids, "attention_mask": mask})
            return e, p
    else:
        def run(ids, mask):
            with torch.inference_mode():
                e, p = model(torch.from_numpy(ids), torch.from_numpy(mask))
            return e.numpy(), p.numpy()

    docs = [json.loads(l) for l in open(a.docs, encoding="utf-8") if l.strip()]
    t0 = time.time()
    prepared = []
    for d in docs:
        ids = tok.encode(d["text"], add_special_tokens=False).ids
        rs = windows(len(ids))
        prepared.append((d["id"], ids, rs, owners(rs, len(ids))))
    items = [(di, wi) for di, p in enumerate(prepared) for wi in range(len(p[2]))]
    items.sort(key=lambda x: prepared[x[0]][2][x[1]][1] - prepared[x[0]][2][x[1]][0])
    results = {}
    i = 0
    while i < len(items):
        j, longest = i, 0
        while j < len(items):
            s, e = prepared[items[j][0]][2][items[j][1]]
            ln = e - s + 2
            if j > i and max(ln, longest) * (j - i + 1) > a.batch_tokens:
                break
            longest = max(longest, ln)
            j += 1
        batch = items[i:j]
        ids = np.full((len(batch), longest), pad, dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for k, (di, wi) in enumerate(batch):
            s, e = prepared[di][2][wi]
            row = [bos] + prepared[di][1][s:e] + [eos]
            ids[k, :len(row)] = row
            mask[k, :len(row)] = 1
        ent, pro = run(ids, mask)
        for k, key in enumerate(batch):
            results[key] = (ent[k], pro[k])
        i = j
    with open(a.out, "w") as out:
        for di, (doc_id, ids, rs, own) in enumerate(prepared):
            ent, pro = [], []
            for t in range(len(ids)):
                w = own[t]
                e, p = results[(di, w)]
                row = 1 + t - rs[w][0]
                ent.append(int(np.argmax(e[row])))
                z = p[row] - p[row].max()
                pr = np.exp(z) / np.exp(z).sum()
                pro.append(bool(pr[1] + pr[2] > a.promo_threshold))
            out.write(json.dumps({"id": doc_id, "ids": ids, "entity": ent, "promo": pro}) + "\n")
    print(json.dumps({"engine": a.engine, "docs": len(docs), "seconds": time.time() - t0,
                      "tokens": sum(len(p[1]) for p in prepared)}))


if __name__ == "__main__":
    main()
