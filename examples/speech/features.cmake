# lg-speech's features and scoring: log-mel spectra (FFTW), SpecAugment, CTC
# decoding and error rates, with their tests. Included from CMakeLists.txt.
set(_speech ${CMAKE_CURRENT_LIST_DIR})

find_package(PkgConfig REQUIRED)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)

add_library(lg_speech_features STATIC
  ${_speech}/log_mel.cpp ${_speech}/spec_augment.cpp ${_speech}/ctc_decode.cpp
  ${_speech}/error_rate.cpp)
target_include_directories(lg_speech_features PUBLIC ${_speech})
target_link_libraries(lg_speech_features PUBLIC lg_examples_common
                      PRIVATE PkgConfig::FFTW3F lasergrad_warnings)

if(LG_BUILD_TESTS)
  include(doctest)
  add_executable(test_speech_features ${_speech}/test_log_mel.cpp ${_speech}/test_spec_augment.cpp
                 ${_speech}/test_ctc_decode.cpp ${_speech}/test_error_rate.cpp)
  target_link_libraries(test_speech_features PRIVATE lg_speech_features lg_test_main
                        lasergrad_warnings)
  doctest_discover_tests(test_speech_features TEST_PREFIX "speech features: ")
endif()
