"""dlcourse: the one package every notebook of the course imports.

    import dlcourse
    dlcourse.set_seed(0); device = dlcourse.get_device()
    from dlcourse import data, train, viz
"""

from dlcourse import callbacks, check, config, data, models, train, viz
from dlcourse.config import fast, get_device, report, set_seed
from dlcourse.summary import summary  # `dlcourse.summary(model, input_size)`: the per-layer table

__version__ = "0.1.0"
__all__ = ["callbacks", "check", "config", "data", "fast", "get_device", "models", "report",
           "set_seed", "summary", "train", "viz"]

