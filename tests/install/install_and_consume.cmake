file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGV}\n${out}\n${err}")
  endif()
endfunction()
# A library-only build of kwire (no tests, tools or examples), installed.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/kwire -G Ninja -DKWIRE_BUILD_TESTS=OFF
    -DKWIRE_BUILD_TOOLS=OFF -DKWIRE_BUILD_EXAMPLES=OFF -DKWIRE_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
run(${CMAKE_COMMAND} --install ${WORK_DIR}/kwire)
# The consumer finds it and builds.
run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer -G Ninja -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
