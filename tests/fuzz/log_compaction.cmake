# Log compaction of one stored batch (examples/broker/src/storage/embedded/
# batch_compactor.cpp), from the broker's sources built with the fuzz flags.
include(${CMAKE_CURRENT_LIST_DIR}/broker_request.cmake)
