"""Interactive explorers (ipywidgets). Each only wraps plain `viz`/`train` functions whose logic is
unit-tested without a browser; the topic modules are `dlcourse.widgets.neuron`, `dlcourse.widgets.conv`.
"""
