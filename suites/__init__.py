"""pytest-benchmark suites, parametrised from the model and runtime registries (run by `bench run`)."""
