# The consumer's embedded protocol as the group coordinator reads and writes
# it (coordinator/consumer_protocol.cpp), compiled with the fuzz flags.
set(broker_src ${PROJECT_SOURCE_DIR}/examples/broker/src)
if(NOT TARGET fuzz_consumer_protocol)
  add_library(fuzz_consumer_protocol STATIC ${broker_src}/coordinator/consumer_protocol.cpp)
  target_include_directories(fuzz_consumer_protocol PUBLIC ${broker_src})
  target_compile_options(fuzz_consumer_protocol PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  target_link_libraries(fuzz_consumer_protocol PUBLIC kwire::kwire PRIVATE kwire_warnings)
endif()
set(extra_libs fuzz_consumer_protocol)
