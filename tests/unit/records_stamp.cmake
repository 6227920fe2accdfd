set(extra_libs kwire::compression)
