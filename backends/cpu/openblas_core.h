// OpenBLAS's kernel set where OpenBLAS does not recognise the CPU (see
// openblas_core.cpp).
#pragma once

namespace lg::cpu {

// Where OpenBLAS fell back to its SSE3 "Prescott" kernels on an Intel CPU with
// AVX2 and FMA, and OPENBLAS_CORETYPE and LG_KEEP_OPENBLAS_CORE are unset,
// switches it to its "SkylakeX" (AVX-512) or "Haswell" (AVX2) kernels. Must run
// before the first BLAS call: the CPU backend's registration calls it.
void select_openblas_core();

}  // namespace lg::cpu
