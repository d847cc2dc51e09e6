"""dlcourse: the one package every notebook of the course imports.

    import dlcourse
    FAST, device = dlcourse.setup(FAST, SEED)   # fast or full mode, seeds, one line saying which
    from dlcourse import data, train, viz
    dlcourse.expect(acc > 0.85, "the CNN beats the MLP", cnn_acc=acc)   # a claim of the text, checked
    dlcourse.report("06", test_acc=acc)          # your numbers beside the full-run reference
"""

from dlcourse import callbacks, check, config, data, models, train, viz
from dlcourse.claims import ClaimError, expect
from dlcourse.config import fast, get_device, set_seed, setup
from dlcourse.results import reference, report
from dlcourse.summary import summary  # `dlcourse.summary(model, input_size)`: the per-layer table

__version__ = "0.1.0"
__all__ = ["ClaimError", "callbacks", "check", "config", "data", "expect", "fast", "get_device",
           "models", "reference", "report", "set_seed", "setup", "summary", "train", "viz"]
