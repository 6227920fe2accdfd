# zlib's crc32 is the reference for the legacy-message checksum.
set(extra_libs ZLIB::ZLIB)
