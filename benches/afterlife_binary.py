#!/usr/bin/env python3
"""Builds the release binary and names it, from cargo's own build messages
(the path depends on the target the cargo configuration names).

As a module: `afterlife_binary.build()` returns the path.
As a script: prints the path (for shell benches).
"""

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    """Builds `afterlife` with the release profile and returns its path."""
    result = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "afterlife", "--message-format=json"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            if message["target"]["name"] == "afterlife":
                return message["executable"]
    raise SystemExit("cargo built no afterlife executable")


if __name__ == "__main__":
    print(build())
