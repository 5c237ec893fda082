# Runs lg-gpt for ctest and checks the outcome (cmake -P, so it needs no shell).
#   -DMODE=flag-error -DLG_GPT=path "-DARGS=a;b"  exit status 2, one line "lg-gpt: ..." on stderr
#   -DMODE=input-error -DMAKE=fifo|bytes -DFILE=path [-DBYTES=n] "-DARGS=..."  makes FILE (a FIFO,
#       or n bytes), then as flag-error; WANT, when given, is a regex the line must match
#   -DMODE=disk-full -DOUT=dir "-DARGS=..."  with OUT/metrics.jsonl a link to /dev/full (every
#       write fails: no space left), exit status 1, one line "lg-gpt: ..." naming the file, and a
#       checkpoint saved at the step it happened
#   -DMODE=resume-error -DOUT=dir -DTEXT=file "-DARGS=..." "-DRESUME_ARGS=..." [-DMUTATE=1]
#       trains on a copy of TEXT with --stop-after 2, changes each "e" of the copy to "o" when
#       MUTATE is set (same length), then --resume with RESUME_ARGS is as flag-error
#   -DMODE=smoke -DLG_GPT=path -DOUT=dir "-DARGS=..."  exit 0, validation loss falls, a sample
#   -DMODE=resume -DLG_GPT=path -DOUT=dir -DSPLIT=n "-DARGS=..."  a run stopped after n steps
#       and resumed logs the same losses as an uninterrupted one
cmake_minimum_required(VERSION 3.25)

function(run_lg_gpt out_var)
  # The timeout turns a hang (a FIFO opened for reading waits for a writer) into a failure.
  execute_process(COMMAND ${LG_GPT} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err TIMEOUT 30)
  set(${out_var}_rc "${rc}" PARENT_SCOPE)
  set(${out_var}_out "${out}" PARENT_SCOPE)
  set(${out_var}_err "${err}" PARENT_SCOPE)
endfunction()

# The loss columns (train_loss, val_loss) of a metrics.csv, one "step,train,val" per row.
function(loss_rows csv out_var)
  file(STRINGS "${csv}" lines)
  set(rows "")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^([0-9]+),([^,]*),([^,]*)," row "${line}")
    if(row)
      list(APPEND rows "${CMAKE_MATCH_1},${CMAKE_MATCH_2},${CMAKE_MATCH_3}")
    endif()
  endforeach()
  set(${out_var} "${rows}" PARENT_SCOPE)
endfunction()

# Exit status 2 and one line "lg-gpt: ..." on stderr (matching WANT when given).
function(expect_usage_error)
  run_lg_gpt(r ${ARGS})
  string(REGEX MATCHALL "\n" newlines "${r_err}")
  list(LENGTH newlines lines)
  if(NOT r_rc EQUAL 2 OR NOT lines EQUAL 1 OR NOT r_err MATCHES "^lg-gpt: "
     OR (DEFINED WANT AND NOT r_err MATCHES "${WANT}"))
    message(FATAL_ERROR "lg-gpt ${ARGS}: want exit status 2 and one line \"lg-gpt: ...\" on "
                        "stderr (matching '${WANT}'), got status ${r_rc} and:\n${r_err}")
  endif()
endfunction()

if(MODE STREQUAL "flag-error")
  expect_usage_error()
elseif(MODE STREQUAL "input-error")
  get_filename_component(dir "${FILE}" DIRECTORY)
  file(REMOVE_RECURSE "${dir}")
  file(MAKE_DIRECTORY "${dir}")
  if(MAKE STREQUAL "fifo")
    execute_process(COMMAND mkfifo "${FILE}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "mkfifo ${FILE} failed")
    endif()
  else()
    string(REPEAT "a" ${BYTES} bytes)
    file(WRITE "${FILE}" "${bytes}")
  endif()
  expect_usage_error()
elseif(MODE STREQUAL "smoke")
  file(REMOVE_RECURSE "${OUT}")
  run_lg_gpt(r ${ARGS} --out "${OUT}")
  if(NOT r_rc EQUAL 0)
    message(FATAL_ERROR "lg-gpt failed (${r_rc}):\n${r_out}\n${r_err}")
  endif()
  loss_rows("${OUT}/metrics.csv" rows)
  set(first "")
  foreach(row IN LISTS rows)
    string(REPLACE "," ";" fields "${row}")
    list(GET fields 2 val)
    if(NOT val STREQUAL "")
      if(first STREQUAL "")
        set(first ${val})
      endif()
      set(last ${val})
    endif()
  endforeach()
  if(first STREQUAL "" OR NOT last LESS first)
    message(FATAL_ERROR "the validation loss did not fall: first ${first}, last ${last}\n${r_out}")
  endif()
  if(NOT EXISTS "${OUT}/checkpoint.safetensors" OR NOT EXISTS "${OUT}/metrics.jsonl"
     OR NOT r_out MATCHES "final validation loss" OR NOT r_out MATCHES "sample")
    message(FATAL_ERROR "missing checkpoint, metrics or summary:\n${r_out}")
  endif()
  message(STATUS "validation loss ${first} -> ${last}")
elseif(MODE STREQUAL "resume")
  file(REMOVE_RECURSE "${OUT}")
  run_lg_gpt(full ${ARGS} --out "${OUT}/full")
  run_lg_gpt(first ${ARGS} --out "${OUT}/split" --stop-after ${SPLIT})
  run_lg_gpt(second ${ARGS} --out "${OUT}/split" --resume)
  foreach(run full first second)
    if(NOT ${run}_rc EQUAL 0)
      message(FATAL_ERROR "lg-gpt (${run} run) failed (${${run}_rc}):\n${${run}_out}\n${${run}_err}")
    endif()
  endforeach()
  if(NOT second_out MATCHES "resuming from .* at step ${SPLIT}")
    message(FATAL_ERROR "the second run did not resume at step ${SPLIT}:\n${second_out}")
  endif()
  loss_rows("${OUT}/full/metrics.csv" full_rows)
  loss_rows("${OUT}/split/metrics.csv" split_rows)
  if(NOT full_rows STREQUAL split_rows)
    message(FATAL_ERROR "the resumed run's losses differ:\nfull:  ${full_rows}\nsplit: ${split_rows}")
  endif()
elseif(MODE STREQUAL "disk-full")
  file(REMOVE_RECURSE "${OUT}")
  file(MAKE_DIRECTORY "${OUT}")
  file(CREATE_LINK /dev/full "${OUT}/metrics.jsonl" SYMBOLIC)
  run_lg_gpt(r ${ARGS} --out "${OUT}")
  string(REGEX MATCHALL "\n" newlines "${r_err}")
  list(LENGTH newlines lines)
  if(NOT r_rc EQUAL 1 OR NOT lines EQUAL 1
     OR NOT r_err MATCHES "^lg-gpt: .*metrics.jsonl.*checkpoint saved"
     OR NOT EXISTS "${OUT}/checkpoint.safetensors")
    message(FATAL_ERROR "lg-gpt ${ARGS} with a full disk under metrics.jsonl: want status 1, one "
                        "line naming the file and a saved checkpoint, got status ${r_rc} and:\n"
                        "${r_out}\n${r_err}")
  endif()
elseif(MODE STREQUAL "resume-error")
  file(REMOVE_RECURSE "${OUT}")
  file(MAKE_DIRECTORY "${OUT}")
  file(READ "${TEXT}" text)
  file(WRITE "${OUT}/text.txt" "${text}")
  run_lg_gpt(first --data "${OUT}/text.txt" ${ARGS} --out "${OUT}" --stop-after 2)
  if(NOT first_rc EQUAL 0)
    message(FATAL_ERROR "the first run failed (${first_rc}):\n${first_out}\n${first_err}")
  endif()
  if(MUTATE)
    string(REPLACE "e" "o" text "${text}")
    file(WRITE "${OUT}/text.txt" "${text}")
  endif()
  set(ARGS --data "${OUT}/text.txt" ${RESUME_ARGS} --out "${OUT}" --resume)
  expect_usage_error()
else()
  message(FATAL_ERROR "check_run.cmake: unknown MODE '${MODE}'")
endif()
