"""Hostile watchlists (issue 11): each must be an error within a second, in bounded memory.

    .venv/bin/python benchmarks/hostile_watchlists.py            # every bad fixture of the kind
    .venv/bin/python benchmarks/hostile_watchlists.py --no-fail  # report, never exit 1

Runs ``pledge-monitor validate FILE`` as a user would, one subprocess per file, and reads the
child's own CPU time (user + system) and peak RSS (``wait4``): CPU time, not wall time, so that a
machine shared with other work still gives the figure. The time that counts is the time beyond
validating the good example (interpreter start and imports are the same for both). Before the fix the
alias bomb passed 3.4 GB, the deep nesting and the NUL byte ended in tracebacks, and an
overflowing interval crashed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "watchlists" / "bad"
HOSTILE = [
    "yaml-alias-bomb",
    "yaml-nul-byte",
    "yaml-nested-brackets",
    "not-utf8",
    "interval-overflowing",
    "interval-over-a-year",
    "route-unknown-scheme",
]
TARGET_SECONDS = 1.0
TARGET_RSS_MB = 200.0


def measure(path: Path) -> tuple[int, float, float, str]:
    """Exit status, CPU seconds, peak RSS in MB and the first line of stderr of one validate."""
    command = [sys.executable, "-m", "monitor", "validate", str(path)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = usage.ru_utime + usage.ru_stime
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stdout and proc.stdout.close()
    proc.stderr and proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, seconds, usage.ru_maxrss / 1024, (err.splitlines() or [""])[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-fail", action="store_true", help="report only; never exit 1")
    args = parser.parse_args()
    failed = []
    base = min(measure(BAD.parent / "good.yaml")[1] for _ in range(3))
    print(f"validating the good example: {base:.2f} s of CPU (start and imports)")
    print(f"{'file':<28} {'exit':>4} {'+CPU s':>8} {'peak MB':>8}  first error line")
    for name in HOSTILE:
        code, seconds, rss, line = measure(BAD / f"{name}.yaml")
        extra = seconds - base
        shown = line.replace(str(BAD) + "/", "")
        print(f"{name:<28} {code:>4} {extra:>8.2f} {rss:>8.0f}  {shown[:100]}")
        located = line.startswith(f"Error: {BAD / name}.yaml:")
        if code != 1 or not located or extra > TARGET_SECONDS or rss > TARGET_RSS_MB:
            failed.append(name)
    print(
        f"targets: exit 1 with file:line, under {TARGET_SECONDS:g} s beyond the good file"
        f" and {TARGET_RSS_MB:g} MB"
    )
    if failed:
        print("missed by: " + ", ".join(failed))
    return 1 if failed and not args.no_fail else 0


if __name__ == "__main__":
    raise SystemExit(main())
