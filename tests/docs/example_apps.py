"""Load the Python files of examples/ as fresh modules, the way uvicorn would import them."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from types import ModuleType

from .markdown import REPO

EXAMPLES = REPO / "examples"
_numbers = itertools.count()


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a new module, so each test gets its own app and state.

    The examples read SESSIONWATCH_* when they are imported: set the environment first.
    """
    path = EXAMPLES / f"{name}.py"
    module_name = f"example_{name}_{next(_numbers)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
