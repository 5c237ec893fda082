# lg_add_mpi_test(NAME COMMAND...): a ctest that runs under mpirun (the command
# names ${LG_MPIRUN} itself). Where lasergrad was built without MPI, or mpirun
# is missing, the test is registered anyway and reports skipped (exit 77) with
# the reason. mpirun refuses root without the two OMPI_ALLOW_* variables, and
# more ranks than cores need --oversubscribe; one OpenMP thread per rank, so
# that the ranks do not fight for the cores.
find_program(LG_MPIRUN NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
set(LG_MPI_TEST_SKIP "")
if(NOT LG_DISTRIBUTED_WITH_MPI)
  set(LG_MPI_TEST_SKIP "lasergrad was built without MPI (install libopenmpi-dev and reconfigure)")
elseif(NOT LG_MPIRUN)
  set(LG_MPI_TEST_SKIP "mpirun was not found at configure time (install openmpi-bin and reconfigure)")
endif()
set(LG_MPI_TEST_ENV OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
    LG_DISTRIBUTED_TIMEOUT=60)
# Open MPI leaves allocations behind at exit, many from MCA components it has
# already unloaded (so no suppression can name them): no leak check under
# mpirun. AddressSanitizer's other checks stay on, and the same code runs with
# the leak check in the single-process tests.
if(LG_SANITIZE)
  list(APPEND LG_MPI_TEST_ENV "ASAN_OPTIONS=detect_leaks=0")
endif()
function(lg_add_mpi_test name)
  if(LG_MPI_TEST_SKIP)
    add_test(NAME "${name}" COMMAND sh -c "echo \"skipped: $1\"; exit 77" sh "${LG_MPI_TEST_SKIP}")
  else()
    add_test(NAME "${name}" COMMAND ${ARGN})
  endif()
  # Alone: its ranks (up to 3 on 2 cores) with bounded waits would compete
  # with the other tests that ctest -j runs at the same time.
  set_tests_properties("${name}" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180 RUN_SERIAL TRUE
                       ENVIRONMENT "${LG_MPI_TEST_ENV}")
endfunction()
