# lg-bench --device cuda softmax where no CUDA device is usable: status 1 and
# one line "lg-bench: --device cuda: ..." on stderr, nothing on stdout. Where
# a device is usable the tiny run succeeds, and the test is skipped.
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${LG_BENCH} --device cuda softmax --rows 8 --cols 8 --vocabs 8
                        --tokens 8 --warmup 0 --runs 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 50)
if(rc EQUAL 0 AND out MATCHES "\"bench\":\"softmax\"")
  message("a CUDA device is usable: nothing to check")
  return()
endif()
string(REGEX MATCHALL "\n" newlines "${err}")
list(LENGTH newlines lines)
if(NOT rc EQUAL 1 OR NOT lines EQUAL 1 OR NOT err MATCHES "^lg-bench: --device cuda: no usable CUDA"
   OR NOT out STREQUAL "")
  message(FATAL_ERROR "want status 1, one line \"lg-bench: --device cuda: no usable CUDA ...\" "
                      "on stderr and no stdout; got status ${rc}, stderr:\n${err}\nstdout:\n${out}")
endif()
