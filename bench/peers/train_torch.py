#!/usr/bin/env python3
"""Plain-PyTorch peer for `align bench train`: the same shape and the same step.

One step over one packed sequence of --seq tokens: forward, per-token log-probs of every next
token (log_softmax over the full logits, as a plain implementation does), and for --mode lora or
full the backward of their sum and an AdamW update of the trained tensors. LoRA: rank 16 on q, k, v, o, gate, up, down, alpha 32, base frozen.
Prints one JSON object: tokens_per_s, peak_rss_mb (ru_maxrss of this process) and blas, the BLAS
library the process actually loaded (align refuses a ratio against the reference BLAS).
"""
import argparse, ctypes, json, math, os, resource, time

import torch
import torch.nn.functional as F

SHAPES = {
    # name: layers, dim, heads, kv_heads, ffn, vocab, tied embeddings
    "stories260K": (5, 64, 8, 4, 172, 512, False),
    "smollm2-135m-shape": (30, 576, 9, 3, 1536, 49152, True),
    "qwen2.5-0.5b-shape": (24, 896, 14, 2, 4864, 151936, True),
    "llama3.2-1b-shape": (16, 2048, 32, 8, 8192, 128256, True),
    "qwen2.5-1.5b-shape": (28, 1536, 12, 2, 8960, 151936, True),
    "qwen3-0.6b-shape": (28, 1024, 16, 8, 3072, 151936, True),
    "gemma3-270m-shape": (18, 640, 4, 1, 2048, 262144, True),
    "gemma2-2b-shape": (26, 2304, 8, 4, 9216, 256000, True),
    "phi3-mini-shape": (32, 3072, 32, 32, 8192, 32064, False),
}

# What the architectures add to the plain Llama block, as model/bench's shapes declare them:
# head_dim (when not dim/heads), qk_norm (RMSNorm of q and k per head, qwen3 and gemma3), gemma
# (embeddings scaled by sqrt(dim), post-norms around attention and FFN, GeGLU with gelu_tanh),
# softcap (attention, final logits), window and window_layers (sliding-window layers). phi3's
# fused qkv and gate/up projections are the same products as separate ones; the peer keeps them
# separate.
EXTRA = {
    "qwen3-0.6b-shape": dict(head_dim=128, qk_norm=True),
    "gemma3-270m-shape": dict(head_dim=256, qk_norm=True, gemma=True, window=513, window_layers=lambda l: (l + 1) % 6 != 0),
    "gemma2-2b-shape": dict(head_dim=256, gemma=True, softcap=(50.0, 30.0), window=4096, window_layers=lambda l: l % 2 == 0),
}


def blas_info():
    """Which BLAS this process runs: "openblas <config> core <name>", "mkl", "reference" (netlib
    libblas, about 15x slower) or "unknown <libs>". Debian's torch links libblas.so.3, which the
    alternatives system points at OpenBLAS when it is installed and at the reference BLAS
    otherwise."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()  # make sure the BLAS is loaded
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if line.count("/") else ""
            if "blas" in path or "mkl" in path:
                libs.add(os.path.realpath(path))
    for lib in sorted(libs):
        if "openblas" in lib:
            try:
                ob = ctypes.CDLL(lib)
                ob.openblas_get_config.restype = ctypes.c_char_p
                ob.openblas_get_corename.restype = ctypes.c_char_p
                return "openblas %s core %s" % (ob.openblas_get_config().decode(), ob.openblas_get_corename().decode())
            except (OSError, AttributeError):
                return "openblas"
    if any("mkl" in lib for lib in libs):
        return "mkl"
    if any(os.path.basename(lib).startswith("libblas") for lib in libs):
        return "reference " + ",".join(sorted(libs))
    return "unknown " + ",".join(sorted(libs))


class LoRALinear(torch.nn.Module):
    def __init__(self, n_in, n_out, rank, alpha, lora):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n_out, n_in) * 0.02)
        self.lora = lora
        if lora:
            self.a = torch.nn.Parameter(torch.randn(rank, n_in) / math.sqrt(n_in))
            self.b = torch.nn.Parameter(torch.zeros(n_out, rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = x @ self.w.t()
        if self.lora:
            y = y + self.scale * ((x @ self.a.t()) @ self.b.t())
        return y


def rope(x, pos, theta=10000.0):
    # x: [T, H, hd], adjacent pairs as llama.cpp
    hd = x.shape[-1]
    freqs = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = pos[:, None].float() * freqs[None, :]
    cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    return out.flatten(-2)


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Block(torch.nn.Module):
    def __init__(self, dim, heads, kv, ffn, rank, alpha, lora, layer, head_dim=None, qk_norm=False, gemma=False,
                 softcap=None, window=0, window_layers=None):
        super().__init__()
        hd = head_dim or dim // heads
        self.heads, self.kv, self.hd = heads, kv, hd
        self.gemma, self.softcap = gemma, softcap
        self.window = window if window and window_layers and window_layers(layer) else 0
        self.n1 = torch.nn.Parameter(torch.ones(dim))
        self.n2 = torch.nn.Parameter(torch.ones(dim))
        if gemma:
            self.p1 = torch.nn.Parameter(torch.ones(dim))
            self.p2 = torch.nn.Parameter(torch.ones(dim))
        self.qn = torch.nn.Parameter(torch.ones(hd)) if qk_norm else None
        self.kn = torch.nn.Parameter(torch.ones(hd)) if qk_norm else None
        L = lambda i, o: LoRALinear(i, o, rank, alpha, lora)
        self.q, self.k, self.v, self.o = L(dim, heads * hd), L(dim, kv * hd), L(dim, kv * hd), L(heads * hd, dim)
        self.gate, self.up, self.down = L(dim, ffn), L(dim, ffn), L(ffn, dim)

    def forward(self, x, pos):
        T = x.shape[0]
        h = rms(x, self.n1)
        q = self.q(h).view(T, self.heads, self.hd)
        k = self.k(h).view(T, self.kv, self.hd)
        if self.qn is not None:
            q, k = rms(q, self.qn), rms(k, self.kn)
        q, k = rope(q, pos), rope(k, pos)
        v = self.v(h).view(T, self.kv, self.hd)
        rep = self.heads // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [H, T, hd]
        s = (q @ k.transpose(1, 2)) / math.sqrt(self.hd)
        if self.softcap:
            s = self.softcap[0] * torch.tanh(s / self.softcap[0])
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        if self.window:
            mask = mask | torch.ones(T, T, dtype=torch.bool).tril(-self.window)
        a = self.o((torch.softmax(s.masked_fill(mask, float("-inf")), -1) @ v).transpose(0, 1).reshape(T, -1))
        x = x + (rms(a, self.p1) if self.gemma else a)
        h = rms(x, self.n2)
        act = F.gelu(self.gate(h), approximate="tanh") if self.gemma else F.silu(self.gate(h))
        f = self.down(act * self.up(h))
        return x + (rms(f, self.p2) if self.gemma else f)


class Model(torch.nn.Module):
    def __init__(self, layers, dim, heads, kv, ffn, vocab, tied, rank, alpha, lora, **extra):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(vocab, dim) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(dim, heads, kv, ffn, rank, alpha, lora, l, **extra) for l in range(layers))
        self.nf = torch.nn.Parameter(torch.ones(dim))
        self.out = self.emb if tied else torch.nn.Parameter(torch.randn(vocab, dim) * 0.02)
        self.scale = math.sqrt(dim) if extra.get("gemma") else 1.0
        self.final_cap = extra["softcap"][1] if extra.get("softcap") else 0.0

    def forward(self, tokens):
        T = tokens.shape[0]
        pos = torch.arange(T)
        x = self.emb[tokens] * self.scale
        for b in self.blocks:
            x = b(x, pos)
        x = rms(x, self.nf)
        logits = x[:-1] @ self.out.t()
        if self.final_cap:
            logits = self.final_cap * torch.tanh(logits / self.final_cap)
        return torch.log_softmax(logits, -1).gather(1, tokens[1:, None]).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(SHAPES), required=True)
    ap.add_argument("--mode", choices=["forward", "lora", "full"], required=True)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    layers, dim, heads, kv, ffn, vocab, tied = SHAPES[a.model]
    m = Model(layers, dim, heads, kv, ffn, vocab, tied, 16, 32.0, a.mode == "lora", **EXTRA.get(a.model, {}))
    for n, p in m.named_parameters():
        p.requires_grad_(a.mode == "full" or (a.mode == "lora" and (n.endswith(".a") or n.endswith(".b"))))
    # align's training step ends with an AdamW update of the trained tensors (model/bench); so does this one.
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) if a.mode != "forward" else None
    tokens = torch.randint(0, vocab, (a.seq,))

    def step():
        if a.mode == "forward":
            with torch.no_grad():
                m(tokens).sum().item()
        else:
            m.zero_grad(set_to_none=False)
            m(tokens).sum().backward()
            opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.iters):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "pytorch-" + torch.__version__, "tokens_per_s": a.seq * a.iters / dt, "peak_rss_mb": rss,
                      "blas": blas_info()}))


if __name__ == "__main__":
    main()
