"""The schedules inside each framework's own optimizer loop: :mod:`~lrlab.adapters.torch`,
:mod:`~lrlab.adapters.keras`, :mod:`~lrlab.adapters.optax` (what they share in ``_shared``).

Users import them through the framework doors :mod:`lrlab.torch`, :mod:`lrlab.keras` and
:mod:`lrlab.optax`, which add each framework's range test; lrlab's own layers import them here.
"""
