"""The peers the benchmarks install on demand."""

import os
import subprocess
import sys


def have_psutil():
    """Whether psutil imports, installing it if it is missing: with pip, or,
    where the system's Python refuses pip (PEP 668, as Debian's does), as the
    distribution's python3-psutil. False, with the reason printed, if neither
    works: the caller then leaves psutil's row out."""
    try:
        import psutil  # noqa: F401

        return True
    except ImportError:
        pass
    attempts = [[sys.executable, "-m", "pip", "install", "--quiet", "psutil"]]
    if sys.executable.startswith("/usr/bin/") and os.path.exists("/usr/bin/apt-get"):
        attempts.append(["apt-get", "install", "-y", "-qq", "python3-psutil"])
    for attempt in attempts:
        if subprocess.run(attempt, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            continue
        try:
            import psutil  # noqa: F401,F811

            return True
        except ImportError:
            continue
    print("note: psutil cannot be imported or installed here; its row is left out", file=sys.stderr)
    return False
