"""The runtime registry: names, duplicates refused, unknown names explained."""

import pytest

from bench.errors import BenchError
from bench.runtimes import Runtime, default_runtime_names, get_runtime, register_runtime, runtime_names


def test_builtin_runtimes_eager_first():
    assert runtime_names() == ["eager", "aoti", "compile", "onnxruntime", "onnxruntime-int8", "torchscript"]
    assert get_runtime("onnxruntime").artifact == "model.onnx"
    # Those that compile for seconds to minutes per model run only when named.
    assert default_runtime_names() == ["eager", "onnxruntime", "torchscript"]


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        @register_runtime
        class AnotherEager(Runtime):
            name = "eager"
            export_format = None

            def load(self, spec, model_dir, device, threads):
                raise NotImplementedError


def test_unknown_runtime_lists_the_valid_names():
    expected = ("unknown runtime 'tensorrt'; choose one of: eager, aoti, compile, onnxruntime, "
                "onnxruntime-int8, torchscript")
    with pytest.raises(BenchError, match=expected):
        get_runtime("tensorrt")


def _defined_in_package(package, base) -> list[type]:
    """Concrete subclasses of `base` defined in the modules of `package` (imported here, one by one)."""
    import importlib
    import inspect
    import pkgutil

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, base) and obj is not base
                  and obj.__module__ == module.__name__ and not inspect.isabstract(obj)]
    return found


def test_every_runtime_class_in_the_package_is_registered():
    import bench.runtimes

    classes = _defined_in_package(bench.runtimes, Runtime)
    assert classes, "no Runtime subclass found in bench/runtimes"
    for cls in classes:
        assert type(get_runtime(cls.name)) is cls, f"{cls.__module__}.{cls.__name__} is not registered"
    assert sorted(c.name for c in classes) == sorted(runtime_names())


def test_every_export_format_class_is_listed_once():
    import export.formats
    from export.formats import EXPORT_FORMATS, ExportFormat, format_names

    classes = _defined_in_package(export.formats, ExportFormat)
    assert classes, "no ExportFormat subclass found in export/formats"
    assert {type(f) for f in EXPORT_FORMATS} == set(classes)
    assert len(set(format_names())) == len(format_names())
    assert len({f.artifact for f in EXPORT_FORMATS}) == len(EXPORT_FORMATS)


def test_runtime_facts_are_consistent_with_their_formats():
    from export.formats import format_names, get_format

    for name in runtime_names():
        runtime = get_runtime(name)
        assert runtime.cuda_memory in ("allocator", "nvml"), name
        assert set(runtime.devices) <= {"cpu", "cuda"}, name
        if runtime.export_format is not None:
            assert runtime.export_format in format_names(), name
            assert runtime.artifact == get_format(runtime.export_format).artifact
