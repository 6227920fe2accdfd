// The records layer without codecs: CRCs, magic-2 batches (view, iteration,
// in-place updates, builder) and legacy message sets. Add
// kwire/records/compression.hpp (and link kwire::compression) for compressed
// batches.
#pragma once

#include "kwire/records/batch.hpp"
#include "kwire/records/builder.hpp"
#include "kwire/records/crc32c.hpp"
#include "kwire/records/legacy.hpp"
