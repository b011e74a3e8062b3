"""On-device export: ONNX / TorchScript / int8 models with a JSON sidecar and label bank.

``export_model(checkpoint, out, fmt, int8)`` is what ``lanhar-fl export`` runs;
``standalone_infer.py`` classifies windows from the exported files with no lanhar_fl import.
"""

from .exporter import FORMATS, export_model
from .ondevice import OnDeviceClassifier, load_source, projected_prototypes
from .parity import int8_accuracy_drop

__all__ = ["FORMATS", "OnDeviceClassifier", "export_model", "int8_accuracy_drop",
           "load_source", "projected_prototypes"]
