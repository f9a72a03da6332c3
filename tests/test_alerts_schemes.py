"""The alert schemes kept as data: the same as the installed apprise's, and enough to validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from monitor.alerts.schemes import APPRISE_VERSION, SCHEMES, is_sendable
from monitor.alerts.send import sendable_schemes

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "apprise_schemes.py"


def test_the_data_is_the_installed_apprises_list() -> None:
    import apprise

    added, gone = sorted(sendable_schemes() - SCHEMES), sorted(SCHEMES - sendable_schemes())
    assert (added, gone) == ([], []), "apprise changed: run python scripts/apprise_schemes.py"
    assert apprise.__version__ == APPRISE_VERSION, "run python scripts/apprise_schemes.py"


def test_the_script_says_when_the_data_is_stale() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_console_and_apprise_schemes_are_sendable_and_typos_are_not() -> None:
    assert is_sendable("console")
    assert is_sendable("slack")
    assert is_sendable("mailtos")
    assert not is_sendable("slak")
    assert not is_sendable("console://")  # a scheme, not a URL
