# Installs a lasergrad build tree into a fresh prefix, then configures, builds
# and runs tests/install/consumer against it through find_package(lasergrad),
# with the same generator, compiler and build type, and no LD_LIBRARY_PATH.
# Also checks that README.md shows consumer/main.cpp's code verbatim.
# ctest runs it (tests/CMakeLists.txt) as
#   cmake -DBUILD_DIR= -DWORK_DIR= -DSOURCE_DIR= -DGENERATOR= -DMAKE_PROGRAM=
#         -DCXX_COMPILER= -DBUILD_TYPE= [-DCXX_FLAGS=] -P run_consumer.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR WORK_DIR SOURCE_DIR GENERATOR CXX_COMPILER BUILD_TYPE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: -D${var}= is required")
  endif()
endforeach()

# Runs a command; on failure prints its output and stops.
function(run_step name)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=DESTDIR ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (exit ${rc}):\n${ARGN}\n${out}")
  endif()
  message(STATUS "${name}: ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(consumer_src ${SOURCE_DIR}/tests/install/consumer)
file(READ ${SOURCE_DIR}/README.md readme)
file(READ ${consumer_src}/main.cpp example)
string(REGEX MATCH "```cpp\n([^`]*)```" block "${readme}")
set(readme_code "${CMAKE_MATCH_1}")
string(REGEX REPLACE "^(//[^\n]*\n)+" "" example_code "${example}")
if(NOT readme_code STREQUAL example_code)
  message(FATAL_ERROR "README.md's first ```cpp block differs from the code of "
                      "tests/install/consumer/main.cpp (after its header comment): keep them equal")
endif()
message(STATUS "README example matches consumer/main.cpp")

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

set(config_args)
if(BUILD_TYPE)
  set(config_args --config ${BUILD_TYPE})
endif()
run_step("install into ${prefix}" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})

# Only the public API is installed: include/lasergrad/{lasergrad.h,runtime.h,cuda.h}
# and include/lasergrad/{core,ops,nn,distributed}/*.h, none of the internal headers.
file(GLOB_RECURSE installed_headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(header ${installed_headers})
  if(NOT header MATCHES "^lasergrad/((core|ops|nn|distributed)/)?[a-z_]+\\.h$"
     OR header MATCHES "/(kernels|op_support|registry|samples|philox|file_io|safetensors_header)\\.h$")
    message(FATAL_ERROR "the package installs ${header}, which is not part of the public API")
  endif()
endforeach()
list(LENGTH installed_headers header_count)
if(header_count LESS 30)
  message(FATAL_ERROR "the package installs only ${header_count} headers under ${prefix}/include")
endif()
message(STATUS "installed headers: ${header_count}, all public")

set(configure_args -S ${consumer_src} -B ${consumer_build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
run_step("configure the consumer" ${CMAKE_COMMAND} ${configure_args})
string(FIND "${step_output}" " from ${prefix}/" found)
if(found EQUAL -1)
  message(FATAL_ERROR "the consumer did not find the package in ${prefix}:\n${step_output}")
endif()
run_step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build} ${config_args})

foreach(program readme_example package_check distributed_check)
  run_step("run ${program}" ${consumer_build}/${program})
  message("${step_output}")
endforeach()
