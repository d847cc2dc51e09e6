"""Models of the course. Small general-purpose ones are here; each era has its own module:
`dlcourse.models.lecture` (the lecture's CCP network), `.classic` (LeNet-5 to GoogLeNet),
`.resnet` (ResNet, DenseNet), `.mini` (28x28 variants), `.deep` (plain vs residual experiments).
"""

from dlcourse.models.basic import MLP, FastNet, TutorialNet, fast_net

__all__ = ["MLP", "FastNet", "TutorialNet", "fast_net"]
