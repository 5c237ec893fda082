# lg-speech's model (convolutional subsampling + Conformer blocks + CTC head)
# and its benchmark, with their tests. Included from CMakeLists.txt.
set(_speech ${CMAKE_CURRENT_LIST_DIR})

add_library(lg_speech_model STATIC ${_speech}/speech_model.cpp ${_speech}/bench.cpp)
target_include_directories(lg_speech_model PUBLIC ${_speech})
target_link_libraries(lg_speech_model PUBLIC lasergrad::lasergrad lg_examples_common
                      PRIVATE nlohmann_json::nlohmann_json lasergrad_warnings)

if(LG_BUILD_TESTS)
  include(doctest)
  add_executable(test_speech_model ${_speech}/test_speech_model.cpp)
  target_link_libraries(test_speech_model PRIVATE lg_speech_model lg_test_main
                        nlohmann_json::nlohmann_json lasergrad_warnings)
  doctest_discover_tests(test_speech_model TEST_PREFIX "speech model: " PROPERTIES TIMEOUT 120)
endif()

if(LG_BUILD_TESTS)
  # PyTorch is never a build or test dependency: without it (or torchaudio,
  # numpy) the check exits 77 and ctest reports it skipped.
  find_program(LG_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
  find_program(LG_PYTHON3 python3)
  if(LG_PYTHON3)
    add_executable(write_speech_twin ${_speech}/write_speech_twin.cpp)
    target_link_libraries(write_speech_twin PRIVATE lg_speech_model lasergrad_warnings)
    set(_name "torch: an lg-speech state dict loads into the torchaudio Conformer twin")
    add_test(NAME "${_name}"
      COMMAND sh -c "\"$1\" speech_laser.safetensors laser &&
                     \"$1\" speech_softmax.safetensors softmax &&
                     \"$2\" \"$3\" speech_laser.safetensors speech_softmax.safetensors"
        sh $<TARGET_FILE:write_speech_twin> ${LG_PYTHON3} ${_speech}/torch_speech.py
      WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties("${_name}" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  endif()
endif()
