# lit configuration for ctorch's stage tests: .ctir and .py files with RUN: and CHECK: lines.
import os
import lit.formats

config.name = "ctorch"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".ctir", ".py", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "st_compare.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ctorch_obj_root, "tests", "lit")

config.environment["PATH"] = os.pathsep.join(
    [config.ctorch_tools_dir, config.llvm_bin_dir, config.environment.get("PATH", "")])
# Sanitizer builds: any report fails the test.
config.environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=98"
config.environment["CTORCH_NUM_THREADS"] = "2"

config.substitutions.append(("%FileCheck", config.filecheck))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%src_root", config.ctorch_src_root))
config.substitutions.append(("%fixtures", os.path.join(config.ctorch_src_root, "tests", "fixtures")))
config.substitutions.append(("%examples", os.path.join(config.ctorch_src_root, "examples")))
if config.sanitize:
    config.available_features.add("asan")
