"""Gathers bench/compare's measurements into one Markdown table and a PNG.

Inputs (all under --runs): kwire.json (Google Benchmark), java.json (JMH with
-prof gc), criterion/ and rust-allocs.json (criterion; counting allocator),
go.txt (testing.B -benchmem), roundtrip.tsv, machine.txt. --data holds the
workloads and rows.tsv.
"""
import argparse
import glob
import json
import os
import re
import statistics

CODECS = ["kwire", "java", "rust", "go"]
LABEL = {
    "kwire": "kwire (C++)",
    "kwire_arena": "kwire, arena",
    "kwire_buffer": "kwire, own buffer",
    "kwire_scatter": "kwire, scattered",
    "java": "Kafka 4.4.0 Java classes",
    "rust": "kafka-protocol (Rust)",
    "go": "franz-go kmsg (Go)",
}
PEERS = ["java", "rust", "go"]
GOAL = {"decode": 3.0, "encode": 2.0}
# kwire's other ways of doing each operation, each with its own column.
VARIANTS = {"decode": ["kwire_arena"], "encode": ["kwire_buffer", "kwire_scatter"]}


def load_rows(data):
    rows = []
    with open(os.path.join(data, "rows.tsv")) as f:
        for line in f:
            if not line.strip():
                continue
            name, message, version, desc = line.rstrip("\n").split("\t")
            size = os.path.getsize(os.path.join(data, name + ".bin"))
            rows.append({"name": name, "message": message, "version": version, "desc": desc, "size": size})
    return rows


def kwire_results(runs):
    """kwire's results, and those of its decode into an arena under "arena"."""
    out = {}
    with open(os.path.join(runs, "kwire.json")) as f:
        doc = json.load(f)
    benches = doc["benchmarks"]
    have_median = any(b.get("aggregate_name") == "median" for b in benches)
    for b in benches:
        if have_median and b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        op, row = b["run_name"].split("/", 1)
        if op == "decode_arena":
            row, op = "arena:" + row, "decode"
        if op == "encode_buffer":
            row, op = "buffer:" + row, "encode"
        if op == "encode_scatter":
            row, op = "scatter:" + row, "encode"
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        out[(row, op)] = {
            "ns": b["real_time"] * scale,
            "allocs": b["pmr_allocs_per_op"] + b["new_allocs_per_op"],
            "bytes": b["pmr_bytes_per_op"] + b["new_bytes_per_op"],
        }
    return out


def java_results(runs):
    out = {}
    with open(os.path.join(runs, "java.json")) as f:
        doc = json.load(f)
    for b in doc:
        op = b["benchmark"].rsplit(".", 1)[1]
        row = b["params"]["row"]
        alloc = None
        for k, v in b.get("secondaryMetrics", {}).items():
            if k.endswith("gc.alloc.rate.norm"):
                alloc = v["score"]
        out[(row, op)] = {"ns": b["primaryMetric"]["score"], "allocs": None, "bytes": alloc}
    return out


def rust_results(runs):
    out = {}
    for bj in glob.glob(os.path.join(runs, "criterion", "**", "new", "benchmark.json"), recursive=True):
        with open(bj) as f:
            meta = json.load(f)
        with open(os.path.join(os.path.dirname(bj), "estimates.json")) as f:
            est = json.load(f)
        op, row = meta["full_id"].split("/", 1)
        out[(row, op)] = {"ns": est["median"]["point_estimate"], "allocs": None, "bytes": None}
    with open(os.path.join(runs, "rust-allocs.json")) as f:
        for a in json.load(f):
            r = out.setdefault((a["row"], a["op"]), {"ns": None})
            r["allocs"] = a["allocs_per_op"]
            r["bytes"] = a["bytes_per_op"]
    return out


GO_LINE = re.compile(r"^Benchmark(Decode|Encode)/(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$")


def go_results(runs):
    samples = {}
    with open(os.path.join(runs, "go.txt")) as f:
        for line in f:
            m = GO_LINE.match(line.strip())
            if not m:
                continue
            key = (m.group(2), m.group(1).lower())
            rest = m.group(4)
            b = re.search(r"([\d.]+) B/op", rest)
            a = re.search(r"([\d.]+) allocs/op", rest)
            samples.setdefault(key, []).append(
                (float(m.group(3)), float(a.group(1)) if a else None, float(b.group(1)) if b else None))
    out = {}
    for key, s in samples.items():
        out[key] = {"ns": statistics.median(x[0] for x in s), "allocs": s[0][1], "bytes": s[0][2]}
    return out


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_mbs(size, ns):
    if not ns:
        return "–"
    return f"{size / ns * 1e3:,.0f}"  # bytes per ns * 1000 = MB/s


def fmt_bytes(b):
    if b is None:
        return "–"
    if b >= 1 << 20:
        return f"{b / (1 << 20):.1f} MiB"
    if b >= 1 << 10:
        return f"{b / (1 << 10):.1f} KiB"
    return f"{b:.0f} B"


def fmt_alloc(r):
    if r is None:
        return "–"
    a, b = r.get("allocs"), r.get("bytes")
    if a is None:
        return fmt_bytes(b)
    return f"{a:,.0f} ({fmt_bytes(b)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--md", required=True)
    ap.add_argument("--png", required=True)
    args = ap.parse_args()

    rows = load_rows(args.data)
    kw = kwire_results(args.runs)
    res = {"kwire": {k: v for k, v in kw.items() if ":" not in k[0]},
           "kwire_arena": {(k[0][6:], k[1]): v for k, v in kw.items() if k[0].startswith("arena:")},
           "kwire_buffer": {(k[0][7:], k[1]): v for k, v in kw.items() if k[0].startswith("buffer:")},
           "kwire_scatter": {(k[0][8:], k[1]): v for k, v in kw.items() if k[0].startswith("scatter:")},
           "java": java_results(args.runs), "rust": rust_results(args.runs), "go": go_results(args.runs)}
    machine = {}
    with open(os.path.join(args.runs, "machine.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            machine[k] = v
    roundtrip = {}
    with open(os.path.join(args.runs, "roundtrip.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                roundtrip[(parts[0], parts[1])] = parts[2]

    quick = args.quick == "1"
    md = []
    md.append("# kwire next to Kafka's Java classes, kafka-protocol (Rust) and franz-go kmsg (Go)")
    md.append("")
    md.append("Command: `bench/compare/run.sh" + (" --quick" if quick else "") + "`" +
              (" (one short iteration each: a smoke run, not a measurement)" if quick else ""))
    md.append("")
    md.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
              f"{machine.get('memory', '?')}, {machine.get('kernel', '?')}; "
              f"load average {machine.get('load_before', '?')} before, {machine.get('load_after', '?')} after "
              "(the machine is shared with other builds: expect timing noise).")
    md.append("")
    md.append(f"Toolchains: {machine.get('cxx', '?')} (-O3); {machine.get('java', '?')}; "
              f"{machine.get('rust', '?')}; {machine.get('go', '?')}. Run {machine.get('date', '?')} "
              f"at kwire revision {machine.get('revision', '?')}.")
    md.append("")
    md.append("Harnesses: kwire with Google Benchmark (median of 5 repetitions); Kafka 4.4.0's message classes "
              "(kafka-clients) with JMH, average time, `-prof gc`; kafka-protocol 0.18 with criterion (median); "
              "franz-go kmsg 1.15 with `testing.B -benchmem` (median of 5). All times are wall-clock per "
              "operation on one thread; MB/s is the row's input size over that time.")
    md.append("")
    md.append("Every codec reads the same bytes, written once by Kafka's Java classes; every row uses the newest "
              "API version all four support. Decode: body bytes to the codec's message value (kmsg with "
              "`UnsafeReadFrom`, kwire's views into the input). Encode: that value back to bytes into a buffer "
              "reused across iterations where the API allows. Records: the codec's own batch reader, CRC-32C "
              "checked, every record read (Java, Rust and Go build a list of records; kwire iterates views); "
              "encode rebuilds the batch from the decoded records.")
    md.append("")
    md.append("kwire × peer = peer time / kwire time (above 1: kwire is faster). Goal: ≥3× the fastest peer "
              "on decode, ≥2× on encode.")
    md.append("")
    md.append("| row | API v | bytes |")
    md.append("| --- | --- | --- |")
    for r in rows:
        md.append(f"| `{r['name']}` | {r['message']} v{r['version']} | {r['size']:,} — {r['desc']} |")
    md.append("")

    chart = {}
    for op in ["decode", "encode"]:
        cols = CODECS[:1] + VARIANTS[op] + CODECS[1:]
        md.append(f"## {op.capitalize()}")
        md.append("")
        if op == "decode":
            md.append("\"kwire, arena\": the same decode with a `std::pmr::monotonic_buffer_resource` released "
                      "after each message, as a server reusing one arena per request would call it; the last "
                      "column compares it with the fastest peer.")
        else:
            md.append("\"kwire\": `encode_into()`, which sizes the message, grows a `std::vector` to that size "
                      "(zero-filling it) and writes. \"kwire, own buffer\": `encoded_size()` then "
                      "`encode_to_buffer()` into a buffer the caller reuses, as the peers write into a reused "
                      "buffer. \"kwire, scattered\": `encode_scattered()` (kwire/scatter.hpp) into pieces for "
                      "one vectored write: the encoder writes sizes, names and headers into a reused buffer and "
                      "leaves byte fields of at least 512 bytes (the record sets) where they are, so it copies "
                      "none of the records the other columns copy; what a server sending a response with "
                      "`writev` or `sendfile` does. Its output, concatenated, is checked against the plain "
                      "encoding before timing. The records row has neither variant (the batch builder owns its "
                      "buffer).")
        md.append("")
        head = "| row | " + " | ".join(f"{LABEL[c]} ns/op (MB/s)" for c in cols)
        head += " | " + " | ".join(f"kwire × {c}" for c in PEERS) + f" | kwire vs fastest peer (goal {GOAL[op]:.0f}×) |"
        head += "".join(f" {LABEL[v]} vs fastest peer |" for v in VARIANTS[op])
        md.append(head)
        md.append("|" + " --- |" * (1 + len(cols) + len(PEERS) + 1 + len(VARIANTS[op])))
        for r in rows:
            key = (r["name"], op)
            cells = [f"`{r['name']}`"]
            times = {}
            for c in cols:
                v = res[c].get(key)
                ns = v["ns"] if v else None
                times[c] = ns
                cells.append(f"{fmt_ns(ns)} ({fmt_mbs(r['size'], ns)})" if ns else "–")
            k = times["kwire"]
            for c in PEERS:
                cells.append(f"{times[c] / k:.2f}×" if k and times[c] else "–")
            peer_ns = [times[c] for c in PEERS if times[c]]
            fastest = min(PEERS, key=lambda c: times[c] or float("inf"))
            for who in ["kwire"] + VARIANTS[op]:
                mine = times.get(who)
                if mine and peer_ns:
                    ratio = times[fastest] / mine
                    cells.append(f"{ratio:.2f}× vs {fastest} — " + ("met" if ratio >= GOAL[op] else "**short**"))
                else:
                    cells.append("–")
            md.append("| " + " | ".join(cells) + " |")
            chart[key] = times
        md.append("")

    md.append("## Allocations per operation")
    md.append("")
    md.append("kwire: allocations (bytes) from the counting memory resource given to decode plus a counting "
              "operator new, in one run outside timing (with the arena: what the arena asked of the heap beyond "
              "its first 8 MiB buffer; scattered: the pieces' and buffer's vectors, reused across operations); "
              "kafka-protocol: a counting global allocator, outside timing; kmsg: `-benchmem`; "
              "Java: bytes only (JMH's gc.alloc.rate.norm).")
    md.append("")
    acols = CODECS[:1] + ["kwire_arena", "kwire_buffer", "kwire_scatter"] + CODECS[1:]
    md.append("| row | op | " + " | ".join(LABEL[c] for c in acols) + " |")
    md.append("|" + " --- |" * (2 + len(acols)))
    for r in rows:
        for op in ["decode", "encode"]:
            cells = [f"`{r['name']}`", op] + [fmt_alloc(res[c].get((r["name"], op))) for c in acols]
            md.append("| " + " | ".join(cells) + " |")
    md.append("")

    md.append("## Round trip (decode, encode again, compare with the input)")
    md.append("")
    md.append("| row | " + " | ".join(LABEL[c] for c in CODECS) + " |")
    md.append("|" + " --- |" * (1 + len(CODECS)))
    for r in rows:
        md.append(f"| `{r['name']}` | " + " | ".join(roundtrip.get((c, r["name"]), "not run") for c in CODECS) + " |")
    md.append("")

    os.makedirs(os.path.dirname(os.path.abspath(args.md)), exist_ok=True)
    with open(args.md, "w") as f:
        f.write("\n".join(md))
    draw(rows, chart, args.png, quick)
    print(f"wrote {args.md} and {args.png}")
    bad = [k for k, v in roundtrip.items() if v != "ok"]
    for k in bad:
        print(f"round trip: {k[0]} {k[1]}: {roundtrip[k]}")
    missing = [(c, r["name"], op) for c in CODECS for r in rows for op in ("decode", "encode")
               if not (res[c].get((r["name"], op)) or {}).get("ns")]
    for m in missing:
        print(f"no timing: {m}")
    if missing or any(k[0] == "kwire" for k in bad):
        raise SystemExit(1)


def draw(rows, chart, png, quick):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"kwire": "#1f77b4", "kwire_arena": "#9ecae1", "kwire_buffer": "#9ecae1", "kwire_scatter": "#08306b",
              "java": "#d62728", "rust": "#ff7f0e", "go": "#2ca02c"}
    fig, axes = plt.subplots(2, 1, figsize=(13, 9))
    width = 0.13
    for ax, op in zip(axes, ["decode", "encode"]):
        xs = range(len(rows))
        cols = CODECS[:1] + VARIANTS[op] + CODECS[1:]
        for i, c in enumerate(cols):
            vals = []
            for r in rows:
                ns = chart.get((r["name"], op), {}).get(c)
                vals.append(r["size"] / ns * 1e3 if ns else 0)
            ax.bar([x + (i - (len(cols) - 1) / 2) * width for x in xs], vals, width, label=LABEL[c], color=colors[c])
        ax.set_yscale("log")
        ax.set_ylabel("MB/s (log scale, higher is better)")
        ax.set_title(f"{op.capitalize()}" + (" — quick smoke run, not a measurement" if quick else ""))
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["name"] for r in rows], rotation=15, fontsize=8)
        ax.grid(axis="y", which="major", alpha=0.3)
    for ax in axes:
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Same bytes, four codecs: throughput per row (input bytes / wall time per operation)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
