"""Health check of a phiforge-managed venv.

Request (JSON file): {"imports": [module, ...], "pins": {distribution: version, ...}}
Result (JSON file):  {"python": "3.11.7", "installed": {distribution: version, ...}, "problems": [text, ...]}
Exits 0 even when problems are found: the caller decides, and needs the list either way.
"""

import importlib
import importlib.metadata
import platform
import sys

from phiforge_io import run


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check(request: dict) -> dict:
    installed = {canonical(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}
    problems = []
    for name, wanted in request.get("pins", {}).items():
        found = installed.get(canonical(name))
        # A local version label (torch 2.13.0+cpu) still satisfies the pin 2.13.0.
        if found is None:
            problems.append(f"{name} is not installed (wanted {wanted})")
        elif found.split("+")[0] != wanted.split("+")[0]:
            problems.append(f"{name} is {found}, wanted {wanted}")
    for module in request.get("imports", []):
        try:
            importlib.import_module(module)
        except Exception as error:  # any import failure means the venv cannot be trusted
            problems.append(f"import {module} failed: {type(error).__name__}: {error}")
            print(f"import {module} failed", file=sys.stderr)

    return {"python": platform.python_version(), "installed": dict(sorted(installed.items())), "problems": problems}


if __name__ == "__main__":
    run(check, name="health_check")
