#!/usr/bin/env python3
"""Summarise a callgrind output file for scripts/bench.sh.

    callgrind_summary.py FILE [--device REGEX] [--annotate SYMBOL --binary PATH]

Prints `total=<Ir> device=<Ir> calls.<name>=<n> ...` on one line:
- total: every instruction collected (run callgrind with --toggle-collect=<loop symbol>, so this
  is the measured loop, inclusive of everything it calls);
- device: inclusive cost of calls to functions matching REGEX (the null device's service()),
  which scripts/bench.sh subtracts to get the driver's own instructions;
- calls.*: calls, made while collecting, to the allocator and to Swift's reference counting.

With --annotate, also prints the instructions of SYMBOL (from `objdump -d` of the binary) with
the Ir callgrind attributed to each (run callgrind with --dump-instr=yes for this).
"""
import re
import subprocess
import sys
from collections import defaultdict

WATCHED = {
    "malloc": r"^(__libc_)?malloc$|^malloc$",
    "calloc": r"^calloc$",
    "realloc": r"^realloc$",
    "posix_memalign": r"^posix_memalign$|^aligned_alloc$",
    "free": r"^(__libc_)?free$|^cfree$",
    "swift_allocObject": r"^swift_allocObject$",
    "swift_retain": r"^swift_retain(_n)?$|^swift_nonatomic_retain(_n)?$",
    "swift_release": r"^swift_release(_n)?$|^swift_nonatomic_release(_n)?$",
    "swift_bridgeObjectRetain": r"^swift_bridgeObjectRetain(_n)?$",
    "swift_bridgeObjectRelease": r"^swift_bridgeObjectRelease(_n)?$",
    "swift_unknownObjectRetain": r"^swift_unknownObjectRetain(_n)?$",
    "swift_unknownObjectRelease": r"^swift_unknownObjectRelease(_n)?$",
    "swift_beginAccess": r"^swift_beginAccess$",
    "swift_once": r"^swift_once$",
}


def parse(path):
    names = {}  # (kind, id) -> name
    total = 0
    calls = defaultdict(int)     # callee name -> call count
    inclusive = defaultdict(int)  # callee name -> inclusive Ir of calls
    self_cost = defaultdict(lambda: defaultdict(int))  # fn -> address -> Ir
    fn = None
    pending_call = None
    last_addr = 0
    positions = ["line"]

    def resolve(kind, text):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", text.strip())
        if not m:
            return text.strip()
        key = (kind, m.group(1))
        if m.group(2):
            names[key] = m.group(2)
        return names.get(key, "?")

    def position_value(token, last):
        if token == "*":
            return last
        if token.startswith("+"):
            return last + int(token[1:], 0)
        if token.startswith("-"):
            return last - int(token[1:], 0)
        return int(token, 0)

    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line:
                continue
            if line.startswith("positions:"):
                positions = line.split(":", 1)[1].split()
                continue
            if line.startswith("summary:"):
                total = int(line.split(":", 1)[1].split()[0])
                continue
            if line.startswith("fn="):
                fn = resolve("fn", line[3:])
                continue
            if line.startswith("cfn="):
                callee = resolve("fn", line[4:])
                pending_call = {"callee": callee}
                continue
            if line.startswith(("cfi=", "cfl=", "cob=", "ob=", "fl=", "fi=", "fe=")):
                kind = line.split("=", 1)[0]
                # keep the compression table filled (files and objects share ids per kind)
                resolve(kind, line.split("=", 1)[1])
                continue
            if line.startswith("calls="):
                count = int(line.split("=", 1)[1].split()[0])
                if pending_call is not None:
                    pending_call["count"] = count
                    pending_call["await_cost"] = True
                continue
            if line[0] in "0123456789+-*x" or line.startswith("0x"):
                tokens = line.split()
                npos = len(positions)
                if len(tokens) < npos:
                    continue
                addr = last_addr
                if positions[0] == "instr":
                    addr = position_value(tokens[0], last_addr)
                    last_addr = addr
                cost = int(tokens[npos]) if len(tokens) > npos else 0
                if pending_call is not None and pending_call.get("await_cost"):
                    callee = pending_call["callee"]
                    calls[callee] += pending_call["count"]
                    inclusive[callee] += cost
                    pending_call = None
                elif fn is not None:
                    self_cost[fn][addr] += cost
                continue
    return total, calls, inclusive, self_cost


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path = args[0]
    device = None
    annotate = None
    binary = None
    if "--device" in args:
        device = re.compile(args[args.index("--device") + 1])
    if "--annotate" in args:
        annotate = args[args.index("--annotate") + 1]
    if "--binary" in args:
        binary = args[args.index("--binary") + 1]
    total, calls, inclusive, self_cost = parse(path)
    device_ir = sum(ir for name, ir in inclusive.items() if device and device.search(name))
    fields = [f"total={total}", f"device={device_ir}"]
    for label, pattern in WATCHED.items():
        n = sum(c for name, c in calls.items() if re.search(pattern, name))
        fields.append(f"calls.{label}={n}")
    print(" ".join(fields))
    if annotate and binary:
        costs = self_cost.get(annotate, {})
        dump = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True, text=True).stdout
        inside = False
        for line in dump.splitlines():
            if line.endswith(f"<{annotate}>:"):
                inside = True
                print(line)
                continue
            if inside:
                if not line.strip():
                    break
                m = re.match(r"\s*([0-9a-f]+):", line)
                ir = costs.get(int(m.group(1), 16), 0) if m else 0
                print(f"{ir:>12}  {line}")


if __name__ == "__main__":
    main()
