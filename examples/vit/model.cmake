# lg-vit's model and benchmark, their tests and the check that its state dict
# loads into the PyTorch twin (torch_vit.py). Included from CMakeLists.txt.
set(_vit ${CMAKE_CURRENT_LIST_DIR})

add_library(lg_vit_model STATIC ${_vit}/vit_model.cpp)
target_include_directories(lg_vit_model PUBLIC ${_vit})
target_link_libraries(lg_vit_model PUBLIC lasergrad::lasergrad PRIVATE lasergrad_warnings)

# run_vit_bench (lg-vit --bench): one JSON line, as bench/pytorch/vit_train.py's.
add_library(lg_vit_bench STATIC ${_vit}/bench.cpp)
target_link_libraries(lg_vit_bench PUBLIC lg_vit_model lg_examples_common
                      PRIVATE nlohmann_json::nlohmann_json lasergrad_warnings)

if(LG_BUILD_TESTS)
  include(doctest)
  add_executable(test_vit_model ${_vit}/test_vit_model.cpp)
  target_link_libraries(test_vit_model PRIVATE lg_vit_model lg_test_main lasergrad_warnings)
  doctest_discover_tests(test_vit_model TEST_PREFIX "vit model: ")

  add_executable(test_vit_bench ${_vit}/test_vit_bench.cpp)
  target_link_libraries(test_vit_bench PRIVATE lg_vit_bench lg_test_main
                        nlohmann_json::nlohmann_json lasergrad_warnings)
  doctest_discover_tests(test_vit_bench TEST_PREFIX "vit bench: ")

  # PyTorch is never a build or test dependency: without it (or numpy) the
  # check exits 77 and ctest reports it skipped.
  find_program(LG_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
  find_program(LG_PYTHON3 python3)
  if(LG_PYTHON3)
    add_executable(write_vit_twin ${_vit}/write_vit_twin.cpp)
    target_link_libraries(write_vit_twin PRIVATE lg_vit_model lasergrad_warnings)
    set(_name "torch: an lg-vit state dict loads into the PyTorch ViT twin")
    add_test(NAME "${_name}"
      COMMAND sh -c "\"$1\" laser_cls.safetensors laser cls &&
                     \"$1\" softmax_mean.safetensors softmax mean &&
                     \"$2\" \"$3\" laser_cls.safetensors softmax_mean.safetensors"
        sh $<TARGET_FILE:write_vit_twin> ${LG_PYTHON3} ${_vit}/torch_vit.py
      WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties("${_name}" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  endif()
endif()
