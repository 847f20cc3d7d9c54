"""Generation and fine-tuning speed: fnet against transformers eager and transformers +
torch.compile with a static cache, on the same weights and prompts, in one run.

    python benchmarks/generate.py                          # CPU: small Llama and GPT-2 small, batch 1 and 8
    python benchmarks/generate.py --models llama-small --batches 1 --no-compile
    python benchmarks/generate.py --markdown benchmarks/results/generate_cpu.md

Definitions (the same for every library, each through its own ``generate``):

* prefill tokens/s = ``B * P / t1``, with ``t1`` the time of ``generate(max_new_tokens=1)``
  (the prompt through the model, one token picked);
* decode tokens/s = ``B * (N - 1) / (tN - t1)``, with ``tN`` the time of
  ``generate(max_new_tokens=N)`` and no early stop (fnet: ``eos_token_id=[]``,
  transformers: ``min_new_tokens=N``): the steps that feed one token back.

Greedy decoding, prompts of ``P`` tokens (no padding), medians of interleaved repeats
after warm-up (compilation excluded, reported separately). transformers + torch.compile
is transformers' own recipe: ``cache_implementation="static"`` with a ``CompileConfig``
(on CPU ``mode="default"``: "reduce-overhead" means CUDA graphs).

The fine-tuning step is forward, backward and AdamW on ``B x T`` tokens of the small Llama
(fnet: ``fnet.train.make_train_step``; transformers: ``loss.backward()`` +
``torch.optim.AdamW``).

On a GPU (JAX sees one and torch has CUDA) the same script runs a 1B-class Llama
(Llama 3.2 1B's shapes, random weights) in bfloat16 and reports tokens/s and model FLOPs
utilisation (``2 * parameters * tokens/s`` over the chip's dense bf16 peak).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np

from _harness import block

# Llama-family configs (transformers' names). llama-1b: Llama 3.2 1B's shapes.
CONFIGS = {
    "llama-small": ("LlamaConfig", "LlamaForCausalLM", dict(
        vocab_size=32000, hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=4, max_position_embeddings=1024)),
    "gpt2-small": ("GPT2Config", "GPT2LMHeadModel", dict()),  # GPT-2 small: 124M, 12 x 768, vocab 50257
    "llama-1b": ("LlamaConfig", "LlamaForCausalLM", dict(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, max_position_embeddings=4096, tie_word_embeddings=True,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})),
}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense bf16 FLOP/s


def build(name: str, device: str, dtype: str):
    """transformers' model (random init) and fnet's on the same weights."""
    import jax
    import jax.numpy as jnp
    import torch
    import transformers

    from fnet import load_state_dict, models

    config_name, class_name, kw = CONFIGS[name]
    torch.manual_seed(0)
    hc = getattr(transformers, config_name)(**kw, attn_implementation="sdpa")
    hm = getattr(transformers, class_name)(hc).eval()
    fm = getattr(models, class_name)(getattr(models, config_name).from_dict(hc.to_dict()))
    params, _ = load_state_dict(fm, dict(hm.named_parameters()))
    if dtype == "bfloat16":
        params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), params)
        hm = hm.to(torch.bfloat16)
    hm = hm.to(device)
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    return hm, fm.bind(params), n_params


def timed(fn, repeats: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls; ``cpu`` receives each call's process CPU time
    (all threads), which a busy shared machine disturbs far less."""
    out = []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return out


def generation_runners(hm, bound, batch: int, prompt: int, new: int, compile_torch: bool, device: str):
    """``{library: {"t1": fn, "tN": fn}}`` plus each library's first-call (compile) time."""
    import torch

    rng = np.random.default_rng(0)
    ids = rng.integers(10, 1000, (batch, prompt))
    mask = np.ones_like(ids)
    t_ids, t_mask = torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
    pad = 0

    def fnet_gen(n):
        def run():
            block(bound.generate(ids, mask, max_new_tokens=n, eos_token_id=[], pad_token_id=pad))
        return run

    def torch_gen(n, **extra):
        def run():
            with torch.no_grad():
                hm.generate(input_ids=t_ids, attention_mask=t_mask, max_new_tokens=n, min_new_tokens=n,
                            do_sample=False, pad_token_id=pad, **extra)
            if device == "cuda":
                torch.cuda.synchronize()
        return run

    runners = {"fnet": (fnet_gen(1), fnet_gen(new)), "transformers": (torch_gen(1), torch_gen(new))}
    if compile_torch:
        from transformers import CompileConfig

        config = CompileConfig(mode="default" if device == "cpu" else "reduce-overhead")
        config._compile_all_devices = True  # transformers compiles only on accelerators unless asked
        extra = dict(cache_implementation="static", compile_config=config)
        runners["transformers+compile"] = (torch_gen(1, **extra), torch_gen(new, **extra))
    return runners


def pick_torch_threads(run) -> int:
    """torch's faster thread count on this CPU (1 or all cores), as benchmarks/run.py picks it.

    On an oversubscribed CPU (a shared machine) torch's OpenMP barriers stall whenever one
    of its threads is descheduled, and one thread can be many times faster; the faster
    setting is the fair comparison for PyTorch.
    """
    import torch

    timings = {}
    for n in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(n)
        run()
        timings[n] = min(timed(run, 2))
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def bench_generation(name: str, batch: int, args, device: str, dtype: str, built) -> dict:
    hm, bound, n_params = built
    runners = generation_runners(hm, bound, batch, args.prompt, args.new_tokens, args.compile, device)
    startup = {}
    for lib, (one, full) in runners.items():
        t0 = time.perf_counter()
        one()
        full()  # compiles both shapes (fnet: prefill once, a decode loop per budget; torch.compile: its graphs)
        startup[lib] = time.perf_counter() - t0
        full()
    threads = pick_torch_threads(runners["transformers"][1]) if device == "cpu" else None
    samples = {lib: {"t1": [], "tN": [], "c1": [], "cN": []} for lib in runners}
    for _ in range(args.repeats):  # interleaved, so background load hits every library alike
        for lib, (one, full) in runners.items():
            samples[lib]["t1"] += timed(one, 1, samples[lib]["c1"])
            samples[lib]["tN"] += timed(full, 1, samples[lib]["cN"])
    row = {"model": name, "batch": batch, "prompt": args.prompt, "new_tokens": args.new_tokens,
           "params": n_params, "dtype": dtype, "torch_threads": threads}
    for lib, s in samples.items():
        t1, tn = statistics.median(s["t1"]), statistics.median(s["tN"])
        row[lib] = {"prefill_tok_s": batch * args.prompt / t1,
                    "decode_tok_s": batch * (args.new_tokens - 1) / max(tn - t1, 1e-9),
                    "t1_ms": t1 * 1e3, "tN_ms": tn * 1e3, "startup_s": startup[lib],
                    "decode_cpu_ms_per_step": (statistics.median(s["cN"]) - statistics.median(s["c1"]))
                    / (args.new_tokens - 1) * 1e3}
    return row


def bench_finetune(args, device: str) -> dict:
    """One AdamW fine-tuning step of the small Llama, fnet against transformers eager."""
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    from fnet import train as T

    hm, bound, _ = build("llama-small", device, "float32")
    model, params = bound
    rng = np.random.default_rng(0)
    ids = rng.integers(10, 32000, (args.train_batch, args.train_len)).astype(np.int32)
    batch = (jnp.asarray(ids),)

    def loss(model_, p, state, b, train, key):
        out, state = model_.apply(p, state, b[0], labels=b[0], train=train, key=key)
        return out.loss, state, None, None

    opt = optax.adamw(1e-4, weight_decay=0.01)
    step = T.make_train_step(model, None, opt, compute_loss=loss)
    carry = [jax.tree.map(jnp.copy, params), {}, opt.init(params)]

    def fnet_step():
        carry[0], carry[1], carry[2], metrics = step(carry[0], carry[1], carry[2], batch, None)
        block(metrics["loss"])

    hm.train()
    topt = torch.optim.AdamW(hm.parameters(), lr=1e-4, weight_decay=0.01)
    t_ids = torch.from_numpy(ids.astype(np.int64)).to(device)

    def torch_step():
        topt.zero_grad()
        out = hm(input_ids=t_ids, labels=t_ids)
        out.loss.backward()
        topt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    fnet_step()
    fnet_start = time.perf_counter() - t0
    torch_step()
    threads = pick_torch_threads(torch_step) if device == "cpu" else None
    fnet_step()
    samples = {"fnet": [], "transformers": []}
    cpu = {"fnet": [], "transformers": []}
    for _ in range(args.repeats * 2):
        samples["fnet"] += timed(fnet_step, 1, cpu["fnet"])
        samples["transformers"] += timed(torch_step, 1, cpu["transformers"])
    return {"model": "llama-small", "batch": args.train_batch, "tokens": args.train_len, "fnet_startup_s": fnet_start,
            "torch_threads": threads, **{k: statistics.median(v) * 1e3 for k, v in samples.items()},
            "cpu_ms": {k: statistics.median(v) * 1e3 for k, v in cpu.items()}}


def render(result: dict) -> str:
    libs = [lib for lib in ("fnet", "transformers", "transformers+compile") if lib in result["generation"][0]]
    lines = [f"Greedy generation, prompt {result['prompt']} tokens, {result['new_tokens']} new tokens, "
             f"{result['device']} ({result['dtype']}); tokens/s (higher is better), medians of "
             f"{result['repeats']} interleaved repeats:", "",
             "| model | batch | " + " | ".join(f"{lib} prefill" for lib in libs) + " | "
             + " | ".join(f"{lib} decode" for lib in libs) + " | decode fnet/eager | decode fnet/compile |",
             "|---|---:|" + "---:|" * (2 * len(libs) + 2)]
    for row in result["generation"]:
        pre = " | ".join(f"{row[lib]['prefill_tok_s']:.0f}" for lib in libs)
        dec = " | ".join(f"{row[lib]['decode_tok_s']:.0f}" for lib in libs)
        eager = row["fnet"]["decode_tok_s"] / row["transformers"]["decode_tok_s"]
        comp = (f"{row['fnet']['decode_tok_s'] / row['transformers+compile']['decode_tok_s']:.2f}x"
                if "transformers+compile" in row else "-")
        lines.append(f"| {row['model']} | {row['batch']} | {pre} | {dec} | {eager:.2f}x | {comp} |")
    threads = {row.get("torch_threads") for row in result["generation"]} - {None}
    if threads:
        lines += ["", f"torch ran on {', '.join(map(str, sorted(threads)))} thread(s), its faster setting on this "
                      f"CPU (picked per row)."]
    lines.append("")
    lines.append("Process CPU time per decode step (all threads; ms): " + "; ".join(
        f"{row['model']} b{row['batch']}: " + ", ".join(f"{lib} {row[lib]['decode_cpu_ms_per_step']:.1f}"
                                                        for lib in libs) for row in result["generation"]))
    lines.append("")
    lines.append("Start-up (first calls, compilation included), seconds: " + "; ".join(
        f"{row['model']} b{row['batch']}: " + ", ".join(f"{lib} {row[lib]['startup_s']:.1f}" for lib in libs)
        for row in result["generation"]))
    if "mfu" in result:
        lines.append("")
        lines.append("MFU (2 x parameters x decode tokens/s over the dense bf16 peak): " + ", ".join(
            f"{k} {v:.1%}" for k, v in result["mfu"].items()))
    ft = result.get("finetune")
    if ft:
        lines += ["", f"Fine-tuning step (forward, backward, AdamW) of {ft['model']}, batch {ft['batch']} x "
                      f"{ft['tokens']} tokens: fnet {ft['fnet']:.1f} ms, transformers eager {ft['transformers']:.1f} ms "
                      f"(fnet/transformers {ft['fnet'] / ft['transformers']:.2f}, lower is faster); process CPU time "
                      f"fnet {ft['cpu_ms']['fnet']:.0f} ms, transformers {ft['cpu_ms']['transformers']:.0f} ms."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=None, help=f"from {sorted(CONFIGS)}")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip transformers + torch.compile")
    parser.add_argument("--no-finetune", dest="finetune", action="store_false")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--train-len", type=int, default=128)
    parser.add_argument("--markdown", default=None, help="write the table here (default: benchmarks/results/)")
    args = parser.parse_args()

    import jax
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    gpu = jax.default_backend() == "gpu" and torch.cuda.is_available()
    device, dtype = ("cuda", "bfloat16") if gpu else ("cpu", "float32")
    torch.set_num_threads(os.cpu_count() or 1)
    models_ = args.models or (["llama-1b"] if gpu else ["llama-small", "gpt2-small"])
    kind = jax.devices()[0].device_kind if gpu else f"{platform.processor() or 'CPU'}, {os.cpu_count()} cores"
    result = {"device": kind, "dtype": dtype, "prompt": args.prompt, "new_tokens": args.new_tokens,
              "repeats": args.repeats, "jax": jax.__version__, "torch": torch.__version__,
              "transformers": transformers.__version__, "generation": []}
    for name in models_:
        built = build(name, device, dtype)
        for batch in args.batches:
            t0 = time.perf_counter()
            row = bench_generation(name, batch, args, device, dtype, built)
            result["generation"].append(row)
            print(f"{name} batch {batch}: " + ", ".join(
                f"{lib} prefill {row[lib]['prefill_tok_s']:.0f} decode {row[lib]['decode_tok_s']:.0f} tok/s"
                for lib in ("fnet", "transformers", "transformers+compile") if lib in row)
                + f" ({time.perf_counter() - t0:.0f}s)", flush=True)
            if gpu:
                peak = next((v for k, v in PEAK_BF16.items() if k in kind), None)
                if peak:
                    result.setdefault("mfu", {})[f"{name} b{batch} fnet decode"] = (
                        2 * row["params"] * row["fnet"]["decode_tok_s"] / peak)
    if args.finetune:
        result["finetune"] = bench_finetune(args, device)
    table = render(result)
    print(table)
    path = args.markdown or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                         f"generate_{'gpu' if gpu else 'cpu'}.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(table)
    with open(os.path.splitext(path)[0] + ".json", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
