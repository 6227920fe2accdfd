# The security topic's message reader (kwire-broker's storage/pulsar/
# security_record.cpp), compiled from its source with the fuzz flags.
find_package(nlohmann_json 3 REQUIRED)
set(broker_src ${PROJECT_SOURCE_DIR}/examples/broker/src)
if(NOT TARGET fuzz_pulsar_security)
  add_library(fuzz_pulsar_security STATIC ${broker_src}/storage/pulsar/security_record.cpp)
  target_include_directories(fuzz_pulsar_security PUBLIC ${broker_src})
  target_compile_options(fuzz_pulsar_security PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  # The seam's header brings Asio's awaitable: see broker_request.cmake.
  target_compile_definitions(fuzz_pulsar_security PUBLIC BOOST_ASIO_HAS_CO_AWAIT=1)
  target_link_libraries(fuzz_pulsar_security PUBLIC kwire::kwire PRIVATE kwire_warnings nlohmann_json::nlohmann_json)
endif()
set(extra_libs fuzz_pulsar_security)
