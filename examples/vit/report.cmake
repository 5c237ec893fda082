# lg-vit's evaluation report (confusion matrix, CSV, gnuplot pictures) and its
# image reading for --predict (PGM, PNG through libpng); included by
# CMakeLists.txt beside it.
find_package(PNG REQUIRED)

add_library(lg_vit_report STATIC report.cpp report_plots.cpp gnuplot.cpp image_file.cpp)
target_include_directories(lg_vit_report PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(lg_vit_report PUBLIC lg_examples_common PRIVATE PNG::PNG lasergrad_warnings)

if(LG_BUILD_TESTS)
  include(doctest)
  add_executable(test_vit_report test_vit_report.cpp)
  # libpng also for the test, which writes its PNGs with it.
  target_link_libraries(test_vit_report PRIVATE lg_vit_report PNG::PNG lg_test_main
                        lasergrad_warnings)
  doctest_discover_tests(test_vit_report TEST_PREFIX "vit report: ")

  # scripts/vit_compare.sh against a stub lg-vit that writes fake run folders.
  add_test(NAME "vit compare: vit_compare.sh summarises LASER and softmax runs over seeds"
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/vit_compare_test.sh ${PROJECT_SOURCE_DIR}
                   ${CMAKE_CURRENT_BINARY_DIR}/test-runs/compare)
  set_tests_properties("vit compare: vit_compare.sh summarises LASER and softmax runs over seeds"
                       PROPERTIES TIMEOUT 120)
endif()
