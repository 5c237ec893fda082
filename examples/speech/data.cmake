# lg-speech's data: spoken digit strings synthesised with espeak-ng (the
# speakers and their train / validation / test split, noise, the cache folder
# and its manifest) and audio files read and written with libsndfile,
# resampled with libsamplerate. Included from CMakeLists.txt.
set(_speech ${CMAKE_CURRENT_LIST_DIR})

find_package(PkgConfig REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)

add_library(lg_speech_data STATIC ${_speech}/digits.cpp ${_speech}/speakers.cpp
            ${_speech}/audio.cpp ${_speech}/noise.cpp ${_speech}/synth.cpp ${_speech}/corpus.cpp
            ${_speech}/manifest.cpp)
target_include_directories(lg_speech_data PUBLIC ${_speech})
target_link_libraries(lg_speech_data
                      PUBLIC lg_examples_common lasergrad::lasergrad nlohmann_json::nlohmann_json
                      PRIVATE PkgConfig::SNDFILE PkgConfig::SAMPLERATE lasergrad_warnings)

if(LG_BUILD_TESTS)
  include(doctest)
  add_executable(test_speech_data ${_speech}/test_speech_data.cpp)
  target_link_libraries(test_speech_data PRIVATE lg_speech_data PkgConfig::SNDFILE lg_test_main
                        lasergrad_warnings)
  doctest_discover_tests(test_speech_data TEST_PREFIX "speech data: " PROPERTIES TIMEOUT 120)
endif()
