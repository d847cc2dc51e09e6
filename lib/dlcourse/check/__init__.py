"""Exercise checks: `dlcourse.check.<name>(answer)` passes quietly or raises AssertionError with a hint.

One module per lesson: `lesson00.py` holds the checks of `notebooks/00_*.ipynb`, `lesson08.py` those of
08, and so on. Every public function of those modules is available directly as `dlcourse.check.<name>`
(which is what the notebooks call), and `dlcourse.check.close` compares a number with a hint. The
shared helpers (not answered yet, numbers of any type, stubs, measured accuracy) are in `_common`.
"""

import importlib
import pkgutil

from dlcourse.check._common import close

__all__ = ["close"]
for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):  # shared helpers (_common), not checks
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", [n for n in vars(_module) if not n.startswith("_")]):
        _obj = getattr(_module, _name)
        if callable(_obj) and getattr(_obj, "__module__", None) == _module.__name__:
            if _name in globals():
                raise ImportError(f"check {_name!r} is defined twice (in {_module.__name__} too)")
            globals()[_name] = _obj
            __all__.append(_name)
