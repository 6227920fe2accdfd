# The Pulsar entry readers: kwire_pulsar's entry.cpp and kwire-broker's
# entry_format.cpp, compiled from their sources with the fuzz flags on top of
# the frame decoder and codecs that pulsar_frame.cmake builds.
set(pulsar_storage_dir ${PROJECT_SOURCE_DIR}/examples/broker/src/storage/pulsar)
if(NOT EXISTS ${pulsar_storage_dir}/entry_format.cpp)
  message(FATAL_ERROR "pulsar_entry: no entry_format.cpp in ${pulsar_storage_dir}: "
    "set pulsar_storage_dir in ${CMAKE_CURRENT_LIST_FILE} to where kwire-broker's Pulsar storage lives")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/pulsar_frame.cmake)
if(NOT TARGET fuzz_pulsar_entry)
  add_library(fuzz_pulsar_entry STATIC
    ${pulsar_dir}/kwire_pulsar/entry.cpp ${pulsar_storage_dir}/entry_format.cpp)
  target_include_directories(fuzz_pulsar_entry PUBLIC ${pulsar_storage_dir})
  target_compile_options(fuzz_pulsar_entry PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  target_link_libraries(fuzz_pulsar_entry PUBLIC fuzz_pulsar_frame)
endif()
set(extra_libs fuzz_pulsar_entry)
