"""Reference models, dataset loaders and the training loop."""
