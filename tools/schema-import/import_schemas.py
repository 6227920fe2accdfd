#!/usr/bin/env python3
"""Imports Kafka's JSON message schemas into kwire's normalized form (schemas/).

Sources are read in Kafka's upstream form (JSON with // comments), either from
a directory of *.json files or from the common/message/ resources of a
kafka-clients jar. Only facts are kept: structure, names, types, version
ranges, defaults, tags and flags. Comments and `about` prose are dropped.

Kafka 4.0 removed old versions of many APIs (KIP-896). Clients in the field
still send them, so the newest release is imported and then completed with the
removed versions from an older release (`--legacy`): fields and version ranges
that exist only below the newest release's lowest version are merged back in.
"""
import argparse
import json
import pathlib
import re
import sys
import zipfile

FIELD_KEYS = ["name", "type", "versions", "nullableVersions", "taggedVersions", "tag",
              "flexibleVersions", "default", "ignorable", "mapKey", "entityType", "zeroCopy"]
TOP_KEYS = ["name", "type", "apiKey", "listeners", "validVersions", "flexibleVersions",
            "latestVersionUnstable"]


def strip_comments(text):
    out = []
    for line in text.splitlines():
        # // starts a comment only outside strings; schema strings never hold //.
        in_str = False
        cut = len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == '"' and (i == 0 or line[i - 1] != "\\"):
                in_str = not in_str
            elif not in_str and line.startswith("//", i):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def read_source(src):
    """Returns {name: parsed upstream schema} from a directory or a jar."""
    path = pathlib.Path(src)
    schemas = {}
    if path.is_dir():
        files = [(p.name, p.read_text()) for p in sorted(path.glob("*.json"))]
    else:
        with zipfile.ZipFile(path) as jar:
            files = [(pathlib.Path(n).name, jar.read(n).decode())
                     for n in sorted(jar.namelist())
                     if n.startswith("common/message/") and n.endswith(".json")]
    for name, text in files:
        doc = json.loads(strip_comments(text))
        schemas[doc["name"]] = doc
    return schemas


def normalize_field(f):
    out = {k: f[k] for k in FIELD_KEYS if k in f}
    if "fields" in f:
        out["fields"] = [normalize_field(x) for x in f["fields"]]
    return out


def normalize(doc):
    out = {k: doc[k] for k in TOP_KEYS if k in doc}
    out["fields"] = [normalize_field(f) for f in doc.get("fields", [])]
    if "commonStructs" in doc:
        out["commonStructs"] = [
            {"name": s["name"], "versions": s["versions"],
             "fields": [normalize_field(f) for f in s["fields"]]}
            for s in doc["commonStructs"]]
    return out


# ---- version ranges -------------------------------------------------------
def parse_range(s):
    """'none' -> None; '3+' -> (3, None); '1-4' -> (1, 4); '2' -> (2, 2)."""
    if s is None or s == "none":
        return None
    if s.endswith("+"):
        return (int(s[:-1]), None)
    if "-" in s:
        a, b = s.split("-")
        return (int(a), int(b))
    return (int(s), int(s))


def format_range(r):
    if r is None:
        return "none"
    lo, hi = r
    if hi is None:
        return f"{lo}+"
    if lo == hi:
        return str(lo)
    return f"{lo}-{hi}"


def clip(r, lo, hi):
    """Intersects range r with [lo, hi] (hi None = unbounded)."""
    if r is None:
        return None
    a = max(r[0], lo)
    b = r[1] if hi is None else (hi if r[1] is None else min(r[1], hi))
    if b is not None and a > b:
        return None
    return (a, b)


def union(a, b):
    """Union of two ranges that touch or overlap (asserted by the caller)."""
    if a is None:
        return b
    if b is None:
        return a
    lo = min(a[0], b[0])
    hi = None if a[1] is None or b[1] is None else max(a[1], b[1])
    return (lo, hi)


class MergeError(Exception):
    pass


def merge_fields(new, old, legacy_hi, where, notes):
    """Adds to `new` what `old` carries for versions <= legacy_hi."""
    by_name = {f["name"]: f for f in new}
    merged = []
    old_names = [f["name"] for f in old]
    # Walk in old order, inserting old-only fields after their predecessor.
    result = list(new)
    last_pos = -1
    for of in old:
        name = of["name"]
        nf = by_name.get(name)
        old_legacy = clip(parse_range(of["versions"]), 0, legacy_hi)
        if nf is None:
            if old_legacy is None:
                continue  # only in versions the newest release still has: its removal is deliberate
            if clip(parse_range(of["versions"]), legacy_hi + 1, None) is not None:
                raise MergeError(f"{where}.{name}: dropped field also used by kept versions")
            f = dict(of)
            f["versions"] = format_range(old_legacy)
            result.insert(last_pos + 1, f)
            last_pos += 1
            notes.append(f"{where}.{name}: restored for versions {f['versions']}")
            continue
        last_pos = result.index(nf)
        if nf["type"] != of["type"]:
            if old_legacy is not None:
                raise MergeError(f"{where}.{name}: type {of['type']} became {nf['type']}")
        if old_legacy is not None:
            nr = parse_range(nf["versions"])
            nf["versions"] = format_range(union(nr, old_legacy))
            for key in ("nullableVersions",):
                o = clip(parse_range(of.get(key)), 0, legacy_hi)
                if o is not None:
                    nf[key] = format_range(union(parse_range(nf.get(key)), o))
        if "fields" in of and "fields" in nf:
            merge_fields(nf["fields"], of["fields"], legacy_hi, f"{where}.{name}", notes)
            nf["fields"][:] = nf["fields"]
    new[:] = result
    return merged


def merge_legacy(new, old, notes):
    nv = parse_range(new["validVersions"])
    ov = parse_range(old["validVersions"])
    if nv is None and ov is not None:
        # Every version was removed; the legacy definition is the whole API.
        notes.append(f"{new['name']}: all versions ({old['validVersions']}) from the legacy release")
        return json.loads(json.dumps(old))
    if ov is None or nv is None or ov[0] >= nv[0]:
        return new
    legacy_hi = nv[0] - 1
    out = json.loads(json.dumps(new))
    out["validVersions"] = format_range((ov[0], nv[1]))
    merge_fields(out["fields"], old.get("fields", []), legacy_hi, new["name"], notes)
    old_common = {s["name"]: s for s in old.get("commonStructs", [])}
    for s in out.get("commonStructs", []):
        if s["name"] in old_common:
            merge_fields(s["fields"], old_common[s["name"]]["fields"], legacy_hi,
                         f"{new['name']}.{s['name']}", notes)
    notes.append(f"{new['name']}: versions {ov[0]}-{legacy_hi} restored from the legacy release")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", required=True, help="newest schemas: a directory or a kafka-clients jar")
    ap.add_argument("--source-release", required=True, help="release the source comes from")
    ap.add_argument("--legacy", help="older schemas (directory or jar) to restore removed versions from")
    ap.add_argument("--legacy-release")
    ap.add_argument("--errors", help="JSON error code table to copy into schemas/error_codes.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    newest = {n: normalize(d) for n, d in read_source(args.source).items()}
    legacy = {n: normalize(d) for n, d in read_source(args.legacy).items()} if args.legacy else {}
    notes = []
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        if old.name not in ("SOURCE.json", "error_codes.json"):
            old.unlink()
    # An API whose legacy versions were all early access (its latest version
    # unstable and below the newest release's range) was redefined, not
    # retired: those versions are not restored, for its request or response.
    early_access = set()
    for name, old in legacy.items():
        new = newest.get(name)
        if new is None or not old.get("latestVersionUnstable", False):
            continue
        if parse_range(old["validVersions"])[1] < parse_range(new["validVersions"])[0]:
            early_access.add(old.get("apiKey"))
    for name, doc in sorted(newest.items()):
        old = legacy.get(name)
        if old is not None and old.get("apiKey") not in early_access:
            doc = merge_legacy(doc, old, notes)
        (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    live_keys = {d.get("apiKey") for d in newest.values()}
    removed = sorted(set(legacy) - set(newest))
    for name in removed:
        doc = legacy[name]
        # A removed API whose key lives on under a new name is covered by the new one.
        if doc["type"] in ("request", "response") and doc.get("apiKey") not in live_keys:
            (out / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
            notes.append(f"{name}: API removed in the newest release, kept from the legacy release")
    source = {"newest": {"artifact": "org.apache.kafka:kafka-clients", "version": args.source_release}}
    if args.legacy:
        source["legacy"] = {"artifact": "org.apache.kafka:kafka-clients", "version": args.legacy_release}
    source["merged"] = notes
    (out / "SOURCE.json").write_text(json.dumps(source, indent=1) + "\n")
    if args.errors:
        table = json.loads(pathlib.Path(args.errors).read_text())
        (out / "error_codes.json").write_text(json.dumps(table, indent=1) + "\n")
    print(f"imported {len(newest)} schemas ({len(notes)} merge notes) into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
