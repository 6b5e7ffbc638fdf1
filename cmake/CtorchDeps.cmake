# Finds ctorch's dependencies: LLVM (through llvm-config), flex, bison, OpenBLAS, cJSON, zlib,
# lit and FileCheck; the CUDA toolkit is optional.

find_program(LLVM_CONFIG NAMES llvm-config-14 llvm-config REQUIRED)
execute_process(COMMAND ${LLVM_CONFIG} --includedir OUTPUT_VARIABLE LLVM_INCLUDE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --libdir OUTPUT_VARIABLE LLVM_LIB_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --bindir OUTPUT_VARIABLE LLVM_BIN_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --version OUTPUT_VARIABLE LLVM_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --libs core target native passes analysis executionengine
                OUTPUT_VARIABLE LLVM_LIBS_RAW OUTPUT_STRIP_TRAILING_WHITESPACE)
separate_arguments(LLVM_LIBS UNIX_COMMAND "${LLVM_LIBS_RAW}")
message(STATUS "LLVM ${LLVM_VERSION}: ${LLVM_INCLUDE_DIR}")

find_package(FLEX 2.6 REQUIRED)
find_package(BISON 3.0 REQUIRED)

find_path(CBLAS_INCLUDE_DIR cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas)
find_library(OPENBLAS_LIB NAMES openblas REQUIRED)
if(NOT CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found: install libopenblas-dev (tools/install-deps.sh)")
endif()

find_path(CJSON_INCLUDE_DIR cjson/cJSON.h REQUIRED)
find_library(CJSON_LIB NAMES cjson REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
find_package(Python3 COMPONENTS Interpreter REQUIRED)

find_program(FILECHECK NAMES FileCheck-14 FileCheck HINTS ${LLVM_BIN_DIR} REQUIRED)
find_program(LIT NAMES lit lit.py llvm-lit HINTS ${LLVM_LIB_DIR}/../build/utils/lit /usr/lib/llvm-14/build/utils/lit)
if(NOT LIT)
  message(FATAL_ERROR "lit not found: install llvm-14-tools (tools/install-deps.sh)")
endif()

# CUDA: optional, detected, never required. NVRTC and the driver are loaded at run time.
find_path(CUDA_INCLUDE_DIR cuda.h PATHS $ENV{CUDA_HOME}/include /usr/local/cuda/include)
if(CUDA_INCLUDE_DIR)
  message(STATUS "CUDA headers: ${CUDA_INCLUDE_DIR} (GPU code generation enabled)")
  set(CT_HAVE_CUDA ON)
else()
  message(STATUS "CUDA headers not found: GPU code generation disabled")
  set(CT_HAVE_CUDA OFF)
endif()
