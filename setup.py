"""Builds mlpc._core: the C core (csrc/core) and its CPython wrapper (csrc/module).

OpenBLAS comes from the scipy-openblas32 wheel (a pinned build requirement). Its shared library is
copied into the package next to the extension, which finds it through the rpath $ORIGIN, so the
installed package needs nothing from the build environment; the license texts of that binary
(OpenBLAS's BSD license, LAPACK's, and the GCC runtime exception for the libgfortran parts linked
into it) are copied beside it as OPENBLAS_LICENSE.txt. MLPC_BLAS=system builds against a
system OpenBLAS found with pkg-config instead (opt-in; nothing is bundled then).
"""
import glob
import importlib.metadata
import os
import shutil
import subprocess

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -fopenmp-simd: `#pragma omp simd` reductions vectorize (no OpenMP runtime is linked).
# -fno-trapping-math: without it GCC treats every floating-point comparison as a possible trap
# and will not turn `x > 0 ? x : a * x` into a vector select, so no activation loop with a
# select vectorizes (checked with -fopt-info-vec). mlpc never enables floating-point traps.
# No -march: the hot loops carry their own AVX2 / AVX-512 clones (csrc/core/simd.h).
CFLAGS = ["-O3", "-std=gnu11", "-Wall", "-Wextra", "-fno-math-errno", "-fno-trapping-math",
          "-fopenmp-simd"]


def blas_config():
    """(include_dirs, library_dirs, libraries, macros, files to bundle: [(source, name)])."""
    if os.environ.get("MLPC_BLAS", "").lower() == "system":
        def pkg(flag):
            return subprocess.check_output(["pkg-config", flag, "openblas"], text=True).split()
        incs = [f[2:] for f in pkg("--cflags") if f.startswith("-I")]
        libs = pkg("--libs")
        return (incs, [f[2:] for f in libs if f.startswith("-L")],
                [f[2:] for f in libs if f.startswith("-l")], [], [])
    import scipy_openblas32 as sob
    lib_dir = sob.get_lib_dir()
    name = sob.get_library()                      # "scipy_openblas"
    shared = os.path.join(lib_dir, f"lib{name}.so")
    return ([sob.get_include_dir()], [lib_dir], [name], [("BLAS_SYMBOL_PREFIX", "scipy_")],
            [(shared, os.path.basename(shared)), (openblas_license(), "OPENBLAS_LICENSE.txt")])


def openblas_license():
    """The license file the scipy-openblas32 wheel ships for the library it bundles."""
    dist = importlib.metadata.distribution("scipy-openblas32")
    for f in dist.files or ():
        if f.name.upper().startswith("LICENSE"):
            return str(dist.locate_file(f))
    raise RuntimeError("scipy-openblas32 ships no LICENSE file: cannot bundle its library "
                       "without it")


INCLUDES, LIBDIRS, LIBS, MACROS, BUNDLED = blas_config()


class BuildExt(build_ext):
    """build_ext that also places the bundled OpenBLAS and its license beside the extension."""

    def run(self):
        super().run()
        for ext in self.extensions:
            target_dir = os.path.dirname(self.get_ext_fullpath(ext.name))
            for source, name in BUNDLED:
                shutil.copy2(source, os.path.join(target_dir, name))


core = Extension(
    "mlpc._core",
    sources=sorted(glob.glob("csrc/core/*.c")) + sorted(glob.glob("csrc/module/*.c")),
    include_dirs=["csrc/core", numpy.get_include()] + INCLUDES,
    library_dirs=LIBDIRS,
    libraries=LIBS,
    define_macros=MACROS + [("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")],
    extra_compile_args=CFLAGS,
    extra_link_args=["-Wl,-rpath,$ORIGIN"] if BUNDLED else [],
    depends=glob.glob("csrc/core/*.h") + glob.glob("csrc/core/*.inc") + glob.glob("csrc/module/*.h"),
)

setup(ext_modules=[core], cmdclass={"build_ext": BuildExt})
