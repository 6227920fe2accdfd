"""bench/broker's results: one row per measurement, then the report.

  report.py row --log FILE --row KEY --tool TOOL ...   prints one JSON object
  report.py report --work DIR --md OUT.md --png OUT.png

`row` reads what a load tool printed (kafka-producer-perf-test's summary
line, kafka-consumer-perf-test's CSV, the loadgen's JSON) together with the
broker's counters that run.sh sampled around it. `report` gathers the rows of
every round into medians, a Markdown report and a chart; it exits 1 if any
row on either broker has no figure, which is what the quick run checks.
"""
import argparse
import json
import os
import re
import statistics
import sys

MIB = 1 << 20
BROKERS = ["kafka", "kwire"]
LABEL = {"kafka": "Kafka", "kwire": "kwire"}
TOOL = {"perf-produce": "producer-perf-test", "perf-consume": "consumer-perf-test",
        "go-produce": "loadgen produce", "go-consume": "loadgen consume", "go-conns": "loadgen conns"}
PERF_SUMMARY = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\).*?"
                          r"(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th")


def parse_tool(tool, text):
    """What the tool measured: records, rates and latencies, or {}."""
    if tool == "perf-produce":
        m = PERF_SUMMARY.search(text)
        if not m:
            return {}
        return {"records": int(m.group(1)), "rps": float(m.group(2)), "mbps": float(m.group(3)),
                "p50_ms": float(m.group(4)), "p99_ms": float(m.group(6))}
    if tool == "perf-consume":
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        head = next((i for i, l in enumerate(lines) if l.startswith("start.time")), None)
        if head is None or head + 1 >= len(lines):
            return {}
        c = dict(zip([x.strip() for x in lines[head].split(",")], [x.strip() for x in lines[head + 1].split(",")]))
        # The fetch rates leave out joining the group.
        return {"records": int(c["data.consumed.in.nMsg"]), "rps": float(c["fetch.nMsg.sec"]),
                "mbps": float(c["fetch.MB.sec"])}
    found = [l for l in text.splitlines() if l.startswith('{"mode"')]
    if not found:
        return {}
    d = json.loads(found[-1])
    r = {"records": d["records"], "rps": d["records_per_s"], "mbps": d["mb_per_s"]}
    if tool == "go-conns":
        r.update(p50_ms=d.get("request_p50_ms"), p99_ms=d.get("request_p99_ms"),
                 connect_p99_ms=d.get("connect_p99_ms"), connect_s=d.get("connect_s"))
    elif tool == "go-produce":
        r.update(p50_ms=d.get("record_p50_ms"), p99_ms=d.get("record_p99_ms"),
                 req_p50_ms=d.get("request_p50_ms"), req_p99_ms=d.get("request_p99_ms"))
    if d.get("first_error"):
        r["error"] = d["first_error"]
    return r


def cmd_row(a):
    text = open(a.log, errors="replace").read()
    r = {k: getattr(a, k) for k in ("row", "tool", "broker", "round", "partitions", "size", "acks", "batch",
                                    "source", "cpu_s", "wall_s", "hwm_kb", "rss_kb")}
    try:
        r.update(parse_tool(a.tool, text))
    except (ValueError, KeyError) as e:
        r["error"] = f"unreadable output: {e}"
    status = "ok"
    if a.rc != 0:
        status = f"exit {a.rc}"
    elif "rps" not in r:
        status = "no figure in the tool's output"
    elif r.get("records") != a.records:
        status = f"{r.get('records')} of {a.records} records"
    if status != "ok":
        # The tool's last words, for the report.
        tail = [l for l in text.splitlines()
                if l.strip() and not l.lstrip().startswith(("at ", '{"mode"'))][-3:]
        status += ": " + " / ".join(t.strip()[:160] for t in tail)
    r["status"] = status
    r["bytes"] = a.records * a.size
    print(json.dumps(r))


def med(runs, key):
    v = [r[key] for r in runs if r["status"] == "ok" and isinstance(r.get(key), (int, float))]
    return statistics.median(v) if v else None


def cpu_per_100mb(r):
    return r["cpu_s"] / (r["bytes"] / (100 * MIB)) if r.get("bytes") else None


def fmt(v, spec, unit=""):
    return (format(v, spec) + unit) if isinstance(v, (int, float)) else "–"


def ratio(a, b):
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and b else "–"


def workload(r):
    if r["source"]:
        return f"read {r['source']}'s topic from the start"
    if r["tool"] == "go-conns":
        return f"{r['partitions']} partitions, {r['size']} B, acks=1, one record per request"
    size = "1 KiB" if r["size"] == 1024 else f"{r['size']} B"
    return f"{r['partitions']} partition{'s' if r['partitions'] > 1 else ''}, {size}, acks={r['acks']}, batch {r['batch'] // 1024} KiB"


def cmd_report(a):
    runs = [json.loads(l) for l in open(os.path.join(a.work, "rows.jsonl"))]
    for r in runs:
        r["cpu_100mb"] = cpu_per_100mb(r)
    m = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(a.work, "machine.txt")) if "=" in l)
    order = list(dict.fromkeys(r["row"] for r in runs))
    by = {(k, b): [r for r in runs if r["row"] == k and r["broker"] == b] for k in order for b in BROKERS}
    first = {k: next(r for r in runs if r["row"] == k) for k in order}
    quick = m.get("quick") == "1"

    L = ["# kwire-broker next to Apache Kafka " + m["kafka"], ""]
    cmd = "QUICK=1 bench/broker/run.sh" if quick else \
        f"ROUNDS={m['rounds']} ROW_MB={m['row_mb']} PERF_MB={m['perf_mb']} PROFILE=1 bench/broker/run.sh"
    L += [f"Command: `{cmd}`" + (" (a smoke run: one round of small rows; not a measurement)" if quick else ""), ""]
    L += [f"Run {m['date']} at kwire revision {m['revision']}. Machine: {m['cpu']}, nproc {m['nproc']}, {m['memory']}, "
          f"{m['kernel']}; load average {m['load_before']} before, {m['load_after']} after. Kafka {m['kafka']} "
          f"(KRaft, one node, tools/peers/kafka-server.sh: 1 GiB heap, G1), {m['java']}; loadgen built with {m['go']}.", ""]
    L += ["Both brokers run side by side for the whole benchmark, with their load tools, on this machine's "
          f"{m['nproc']} cores, which other jobs (compilers) share: **throughput figures are noisy; CPU seconds "
          "per 100 MB are the steadier measure** (a broker's own work does not change much when it waits for a core).", ""]
    L += [f"Each produce row writes {m['row_mb']} MiB of record values ({m['perf_mb']} MiB with kafka-producer-perf-test; "
          "random bytes, no keys, no compression) into a new topic; consume rows read a produce row's topic back from the start; the connections row opens "
          f"{m['conns']} connections, each sending Metadata and then {m['requests']} one-record produce requests, one at "
          f"a time. {m['rounds']} round(s), rows interleaved (each row on Kafka, then on kwire-broker; the other way "
          "round in even rounds); figures are medians over the rounds. bench/broker/run.sh's header says why these rows.", ""]
    L += ["- rec/s, MB/s: what the load tool reports (MB = 2^20 bytes of record values). kafka-consumer-perf-test's "
          "are its fetch rates, which leave out joining the group.",
          "- p99: per record, from send to acknowledgement (kafka-producer-perf-test; loadgen produce, from Produce() to "
          "its promise): with unthrottled producers this is mostly time queued in the client. For the connections "
          "row, per produce request. Request p99 (loadgen produce rows): a produce request's round trip, from "
          "the start of its write to the end of reading its response (franz-go's BrokerE2E hook).",
          "- CPU s/100 MB: the broker process's utime + stime (all threads; for Kafka the java process) over the row, "
          "per 100 MiB of record values moved. For the connections row it is dominated by per-request cost.",
          "- RSS after: VmRSS after the row (median). VmHWM: the process's peak RSS since it started (largest "
          f"after any round), so later rows inherit earlier peaks. RSS after start-up: Kafka "
          f"{int(m['kafka_start_rss_kb']) // 1024} MiB, kwire {int(m['kwire_start_rss_kb']) // 1024} MiB.", ""]

    L += ["## Throughput", "",
          "| row | tool | workload | Kafka rec/s | kwire rec/s | kwire/Kafka | Kafka MB/s | kwire MB/s "
          "| Kafka p99 ms | kwire p99 ms | Kafka request p99 ms | kwire request p99 ms |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k in order:
        ka, kw = by[(k, "kafka")], by[(k, "kwire")]
        L.append(f"| {k} | {TOOL[first[k]['tool']]} | {workload(first[k])} | {fmt(med(ka, 'rps'), ',.0f')} | "
                 f"{fmt(med(kw, 'rps'), ',.0f')} | {ratio(med(kw, 'rps'), med(ka, 'rps'))} | {fmt(med(ka, 'mbps'), '.1f')} | "
                 f"{fmt(med(kw, 'mbps'), '.1f')} | {fmt(med(ka, 'p99_ms'), ',.0f')} | {fmt(med(kw, 'p99_ms'), ',.0f')} | "
                 f"{fmt(med(ka, 'req_p99_ms'), ',.1f')} | {fmt(med(kw, 'req_p99_ms'), ',.1f')} |")
    L += ["", "## Broker cost", "",
          "| row | Kafka CPU s/100 MB | kwire CPU s/100 MB | kwire/Kafka | Kafka RSS after MiB | kwire RSS after MiB | Kafka VmHWM MiB | kwire VmHWM MiB |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k in order:
        ka, kw = by[(k, "kafka")], by[(k, "kwire")]
        hwm = [max((r["hwm_kb"] for r in x), default=None) for x in (ka, kw)]
        L.append(f"| {k} | {fmt(med(ka, 'cpu_100mb'), '.2f')} | {fmt(med(kw, 'cpu_100mb'), '.2f')} | "
                 f"{ratio(med(kw, 'cpu_100mb'), med(ka, 'cpu_100mb'))} | {fmt(med(ka, 'rss_kb') and med(ka, 'rss_kb') / 1024, ',.0f')} | "
                 f"{fmt(med(kw, 'rss_kb') and med(kw, 'rss_kb') / 1024, ',.0f')} | {fmt(hwm[0] and hwm[0] / 1024, ',.0f')} | "
                 f"{fmt(hwm[1] and hwm[1] / 1024, ',.0f')} |")
    L += ["", f"![throughput and CPU per row]({os.path.basename(a.png)})", ""]

    L += ["## Every run", "",
          "Latencies in ms; for loadgen produce rows also the produce request's round trip (write to response read).", "",
          "| row | round | broker | rec/s | MB/s | p50 / p99 | request p50 / p99 | broker CPU s | wall s | status |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        req = f"{fmt(r.get('req_p50_ms'), '.1f')} / {fmt(r.get('req_p99_ms'), '.1f')}" if r.get("req_p99_ms") else "–"
        if r["tool"] == "go-conns":
            req = f"connect+Metadata p99 {fmt(r.get('connect_p99_ms'), ',.0f')}"
        lat = f"{fmt(r.get('p50_ms'), ',.1f')} / {fmt(r.get('p99_ms'), ',.1f')}" if r.get("p99_ms") is not None else "–"
        L.append(f"| {r['row']} | {r['round']} | {r['broker']} | {fmt(r.get('rps'), ',.0f')} | {fmt(r.get('mbps'), '.1f')} | "
                 f"{lat} | {req} | {r['cpu_s']:.2f} | {r['wall_s']:.1f} | {r['status'].replace('|', '/')} |")
    L.append("")
    for name, title in (("kwire.issues", "kwire-broker's log lines at warning level or above (first 20)"),
                        ("kafka.issues", "ERROR lines in Kafka's server.log (first 20)")):
        p = os.path.join(a.work, name)
        if os.path.exists(p) and os.path.getsize(p):
            L += [title + ":", "", "```"] + [l.rstrip()[:300].replace(a.work, "WORK") for l in open(p)] + ["```", ""]
        else:
            L += [title.split("(")[0].strip() + ": none.", ""]
    L += profiles(a.work)
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if not quick and os.path.exists(notes):
        L += [open(notes).read().strip(), ""]
    with open(a.md, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")
    draw(order, by, a.png, quick)

    missing = [f"{k} on {b}" for k in order for b in BROKERS if med(by[(k, b)], "rps") is None]
    bad = [f"{r['row']} on {r['broker']}, round {r['round']}: {r['status']}" for r in runs if r["status"] != "ok"]
    for x in bad:
        print("failed:", x, file=sys.stderr)
    for x in missing:
        print("no figure:", x, file=sys.stderr)
    if bad or missing:
        sys.exit(1)


# Names in Boost.Asio's coroutine and executor types that say nothing about
# which of the broker's coroutines a frame belongs to.
ASIO_NOISE = {"boost", "asio", "detail", "execution", "std", "any_executor", "context_as_t", "execution_context",
              "blocking", "never_t", "prefer_only", "possibly_t", "outstanding_work", "tracked_t", "untracked_t",
              "relationship", "fork_t", "continuation_t", "awaitable", "awaitable_as_function", "shared_ptr",
              "__exception_ptr", "exception_ptr", "allocator", "io_context", "basic_executor_type"}


def short_symbol(sym):
    """A profile symbol short enough for a table: template arguments and
    parameter lists elided; a name perf could not demangle (coroutine frames)
    shown as the identifiers in it that are not Boost.Asio's or std's."""
    if sym.startswith("_Z"):
        names, i = [], 0
        # Itanium source names are <length><identifier>; S<n>_ and T<n>_ are
        # back-references, whose digits are no length.
        for m in re.finditer(r"(?<![ST])(\d+)([A-Za-z_])", sym):
            n = int(m.group(1))
            name = sym[m.start(2):m.start(2) + n]
            if m.start() < i or n < 2 or not name.isidentifier():
                continue
            i = m.start(2) + n
            if name not in names and name not in ASIO_NOISE:
                names.append(name)
        return "(mangled) " + " ".join(names[:10])
    out, depth = [], 0
    for ch in sym:
        if ch in "<(":
            depth += 1
            if depth == 1:
                out.append("<…>" if ch == "<" else "()")
        elif ch in ">)":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def profiles(work):
    out = []
    for name, what in (("produce", "row go-p6-1k-all (loadgen produce, 6 partitions, 1 KiB, acks=all, 16 KiB batches)"),
                       ("produce-128k", "row go-p6-1k-1-128k (the same with acks=1 and 128 KiB batches)"),
                       ("consume", "row go-consume-p6 (loadgen consume of that topic, 6 partitions, 1 KiB records)")):
        p = os.path.join(work, f"profile-{name}.txt")
        if not os.path.exists(p):
            continue
        if not out:
            out += ["## Where kwire's broker CPU goes", "",
                    "`perf record -g` on kwire-broker for the length of one row, after the rounds (not part of the "
                    "figures above); `perf report --no-children --sort dso,symbol`: the top 15 by self time. "
                    "`[k]` is the kernel working for the broker (system calls, page cache, TCP).", ""]
        lines = open(p, errors="replace").read().splitlines()
        samples = next((re.sub(r"\s+", " ", l.strip("# ")) for l in lines if l.startswith("# Samples")), "")
        rows = [l.split("\t") for l in lines if l.strip() and not l.startswith("#")]
        by_object = {}
        for r in rows:
            if len(r) >= 2 and r[0].strip().endswith("%"):
                by_object[r[1].strip()] = by_object.get(r[1].strip(), 0) + float(r[0].strip().rstrip("%"))
        objects = ", ".join(f"{o} {v:.0f}%" for o, v in sorted(by_object.items(), key=lambda x: -x[1])[:5])
        out += [f"### {name.capitalize().replace('-', ', ')}: {what}", "",
                (f"{samples}. " if samples else "") + f"Self time by object: {objects}.", "",
                "| self | object | symbol |", "| --- | --- | --- |"]
        for r in rows[:15]:
            if len(r) >= 3:
                sym = r[2].strip()
                kind, sym = (sym[:3], sym[4:]) if sym[:1] == "[" else ("", sym)
                out.append(f"| {r[0].strip()} | {r[1].strip()} | {kind} `{short_symbol(sym.strip())}` |")
        out += [""]
    return out


def draw(order, by, png, quick):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"kafka": "#d62728", "kwire": "#1f77b4"}
    fig, axes = plt.subplots(2, 1, figsize=(12, 8.5))
    panels = [("rps", "records/s (log scale, higher is better)"),
              ("cpu_100mb", "broker CPU s per 100 MB (log, lower is better)")]
    for ax, (metric, ylabel) in zip(axes, panels):
        for i, b in enumerate(BROKERS):
            vals = [med(by[(k, b)], metric) or 0 for k in order]
            ax.bar([x + (i - 0.5) * 0.38 for x in range(len(order))], vals, 0.38, label=LABEL[b], color=colors[b])
        for x, k in enumerate(order):
            ka, kw = med(by[(k, "kafka")], metric), med(by[(k, "kwire")], metric)
            if ka and kw:
                ax.annotate(f"{kw / ka:.2f}×", (x, max(ka, kw)), textcoords="offset points", xytext=(0, 3),
                            ha="center", fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=20, fontsize=8)
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("kwire-broker (embedded store) and Apache Kafka, same load, medians per row; labels: kwire/Kafka"
                 + (" — quick smoke run, not a measurement" if quick else ""))
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("row")
    for k in ("log", "row", "tool", "broker", "acks", "source"):
        r.add_argument("--" + k, default="")
    for k in ("round", "partitions", "size", "batch", "records", "rc", "hwm-kb", "rss-kb"):
        r.add_argument("--" + k, type=lambda v: int(v) if v else 0, default=0)
    for k in ("cpu-s", "wall-s"):
        r.add_argument("--" + k, type=float, default=0.0)
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--md", required=True)
    p.add_argument("--png", required=True)
    a = ap.parse_args()
    cmd_row(a) if a.cmd == "row" else cmd_report(a)


if __name__ == "__main__":
    main()
