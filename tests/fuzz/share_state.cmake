# The share partitions' stored records as the group coordinator reads them
# back (coordinator/share_partition.cpp, share_queue_partition.cpp), compiled
# from their sources with the fuzz flags.
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
set(broker_src ${PROJECT_SOURCE_DIR}/examples/broker/src)
if(NOT TARGET fuzz_share_state)
  add_library(fuzz_share_state STATIC ${broker_src}/coordinator/share_partition.cpp
    ${broker_src}/coordinator/share_queue_partition.cpp)
  target_include_directories(fuzz_share_state PUBLIC ${broker_src})
  target_compile_options(fuzz_share_state PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  # The seam's header brings Asio's awaitable, and the partition's file holds
  # two coroutines (carrying actions out to the queue): see
  # broker_request.cmake for both settings.
  target_compile_options(fuzz_share_state PUBLIC -fno-sanitize=function)
  target_compile_definitions(fuzz_share_state PUBLIC BOOST_ASIO_HAS_CO_AWAIT=1)
  target_link_libraries(fuzz_share_state PUBLIC kwire::kwire fmt::fmt PRIVATE kwire_warnings nlohmann_json::nlohmann_json)
endif()
set(extra_libs fuzz_share_state)
