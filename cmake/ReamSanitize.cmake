# Sanitizer and fuzzing builds (issue 14; docs/operations.md, "Fuzzing and sanitizers").
#
#   REAM_SANITIZE=address,undefined  ASan + UBSan; UBSan findings abort (no recovery)
#   REAM_SANITIZE=thread             TSan
#   REAM_FUZZ=ON                     the libFuzzer targets of tests/fuzz (clang only); the
#                                    whole build gets coverage instrumentation for them
#
# Every target of the build is instrumented (libraries, plugins, tests, reamd), so a
# finding anywhere in ream's own code stops the test that reached it. scripts/sanitize.sh
# configures build-asan/ and build-tsan/ with these and runs the selected tests there.
set(REAM_SANITIZE "" CACHE STRING "Build with sanitizers: address,undefined or thread (empty: none)")
option(REAM_FUZZ "Build the libFuzzer targets in tests/fuzz (clang; implies coverage instrumentation)" OFF)

if(REAM_SANITIZE)
  set(_ream_san_flags -fsanitize=${REAM_SANITIZE} -fno-omit-frame-pointer)
  if(REAM_SANITIZE MATCHES "undefined")
    # A UB report fails the run instead of scrolling past.
    list(APPEND _ream_san_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_ream_san_flags})
  add_link_options(-fsanitize=${REAM_SANITIZE})
endif()

if(REAM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "REAM_FUZZ=ON needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
