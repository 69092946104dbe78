"""TorchScript and ONNX export of the registry's models, with artifact checks and parity against eager."""
