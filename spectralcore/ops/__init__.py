"""The ops: eigh, sqrtm/invsqrtm, and the spectral functions matrix_power/matrix_function."""
