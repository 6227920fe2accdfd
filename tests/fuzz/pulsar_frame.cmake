# The Pulsar frame decoder and payload codecs, built with the fuzz flags
# (the rest of kwire_pulsar, the client, needs neither); UB in them stops a
# run as it does in the targets.
find_package(Protobuf REQUIRED)
set(pulsar_dir ${PROJECT_SOURCE_DIR}/examples/pulsar)
if(NOT TARGET fuzz_pulsar_frame)
  protobuf_generate_cpp(fuzz_pulsar_proto_srcs fuzz_pulsar_proto_hdrs ${pulsar_dir}/proto/pulsar_wire.proto)
  set_source_files_properties(${fuzz_pulsar_proto_srcs} PROPERTIES COMPILE_OPTIONS "-w")
  add_library(fuzz_pulsar_frame STATIC
    ${pulsar_dir}/kwire_pulsar/frame.cpp ${pulsar_dir}/kwire_pulsar/compression.cpp ${fuzz_pulsar_proto_srcs})
  target_include_directories(fuzz_pulsar_frame PUBLIC ${pulsar_dir} ${CMAKE_CURRENT_BINARY_DIR})
  target_compile_options(fuzz_pulsar_frame PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  target_link_libraries(fuzz_pulsar_frame PUBLIC kwire::kwire kwire::compression protobuf::libprotobuf)
endif()
set(extra_libs fuzz_pulsar_frame)
