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
