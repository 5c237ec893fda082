// lasergrad: a small define-by-run autodiff tensor framework. One include
// gives the whole public API (namespace lg); see docs in README.md.
#pragma once

#include "core/autograd.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/function.h"
#include "core/grad_mode.h"
#include "core/kernels.h"
#include "core/random.h"
#include "core/scalar.h"
#include "core/tensor.h"
#include "backends/cpu/cpu_backend.h"
#include "ops/arithmetic.h"
#include "ops/attention.h"
#include "ops/factory.h"
#include "ops/gradcheck.h"
#include "ops/linalg.h"
#include "ops/reduction.h"
#include "ops/registry.h"
#include "ops/view.h"
#include "runtime.h"
