// Compiles the seam's headers on their own.
#include "storage/producer_state.hpp"
#include "storage/storage.hpp"
