"""Dataset loaders: Cora (PyG Planetoid), MNIST and CIFAR-100 (torchvision), ESC-50 (official layout)."""
