// Tensors: dtypes and promotion, scalars, factories, printing, in-place ops
// and version counters, RNG reproducibility, threading and the kernel table.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "backends/cpu/cpu_allocator.h"
#include "core/kernels.h"
#include "core/philox.h"

using namespace lg;

TEST_CASE("factories make the documented shapes and dtypes") {
  Tensor a = randn({4, 8}, {.dtype = kFloat64, .requires_grad = true});
  CHECK(a.shape() == Shape{4, 8});
  CHECK(a.dtype() == kFloat64);
  CHECK(a.requires_grad());
  CHECK(a.is_leaf());
  Tensor b = zeros({8}), c = ones({2, 3}), d = full({2}, 3.5), e = arange(10);
  CHECK(b.dtype() == kFloat32);
  CHECK(sum(b).item<double>() == 0);
  CHECK(sum(c).item<double>() == 6);
  CHECK(d.to_vector<float>() == std::vector<float>{3.5f, 3.5f});
  CHECK(e.dtype() == kInt64);
  CHECK(e.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(arange(0.0, 1.0, 0.25).to_vector<float>() == std::vector<float>{0, 0.25f, 0.5f, 0.75f});
  CHECK(arange(5, 0, -2).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  Tensor f = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  CHECK(f.dtype() == kFloat32);
  CHECK(f.shape() == Shape{2, 2});
  Tensor l = tensor(std::vector<int64_t>{0, 3, 1}, {3});
  CHECK(l.dtype() == kInt64);
  CHECK(from_vector(std::vector<double>{1, 2}).dtype() == kFloat64);
  CHECK(from_vector(std::vector<bool>{true, false}).dtype() == kBool);
  CHECK(from_vector(std::vector<int>{1, 2}).dtype() == kInt64);
  Tensor s = full({}, 2);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(zeros({0, 3}).numel() == 0);
}

TEST_CASE("scalars mix with tensors without ambiguity and keep a float tensor's dtype") {
  Tensor t = ones({3});
  CHECK((2 * t).dtype() == kFloat32);
  CHECK((2.0 * t).dtype() == kFloat32);
  CHECK((t / 3).dtype() == kFloat32);
  CHECK((t + 1.5f).to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f});
  CHECK((1 - t).to_vector<float>() == std::vector<float>{0, 0, 0});
  Tensor i = arange(3);
  CHECK((i * 2).dtype() == kInt64);
  CHECK((i * 2.5).dtype() == kFloat32);  // a Python float promotes ints to the default float
  CHECK((i / 2).dtype() == kFloat32);    // true division
  CHECK((i / 2).to_vector<float>() == std::vector<float>{0, 0.5f, 1});
}

TEST_CASE("type promotion follows PyTorch") {
  Tensor f32 = ones({2}), f64 = ones({2}, {.dtype = kFloat64}), i64 = arange(2);
  CHECK((f32 + f64).dtype() == kFloat64);
  CHECK((f32 + i64).dtype() == kFloat32);
  CHECK((i64 + i64).dtype() == kInt64);
  // a zero-dim tensor only raises the category
  Tensor zero_dim_f64 = full({}, 2.0, {.dtype = kFloat64});
  CHECK((f32 * zero_dim_f64).dtype() == kFloat32);
  CHECK((i64 * zero_dim_f64).dtype() == kFloat64);
  CHECK((full({}, 1.0) + zero_dim_f64).dtype() == kFloat64);
  CHECK(eq(f32, f64).dtype() == kBool);
  CHECK(sum(arange(4)).dtype() == kInt64);
  CHECK(sum(gt(arange(4), 1)).item<int64_t>() == 2);
}

TEST_CASE("to(dtype), contiguous, clone and detach") {
  Tensor a = from_vector(std::vector<double>{1.5, -2.5, 3.0}, {3});
  CHECK(a.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK(a.to(kBool).to_vector<bool>() == std::vector<bool>{true, true, true});
  CHECK(a.to(kFloat32).dtype() == kFloat32);
  CHECK(a.to(kFloat64).is_same(a));
  Tensor c = a.clone();
  CHECK(c.storage() != a.storage());
  Tensor d = a.detach();
  CHECK(d.storage() == a.storage());
  Tensor m = arange(6).reshape({2, 3}).t();
  CHECK_FALSE(m.is_contiguous());
  Tensor mc = m.contiguous();
  CHECK(mc.is_contiguous());
  CHECK(mc.to_vector<int64_t>() == std::vector<int64_t>{0, 3, 1, 4, 2, 5});
  CHECK(mc.contiguous().is_same(mc));
  CHECK(a.to(Device::cpu()).is_same(a));
}

TEST_CASE("printing is readable") {
  std::ostringstream os;
  os << from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  CHECK(os.str().find("tensor([[") == 0);
  CHECK(os.str().find("shape=[2,2]") != std::string::npos);
  CHECK(os.str().find("dtype=float32") != std::string::npos);
  std::ostringstream big;
  big << arange(100);
  CHECK(big.str().find("...") != std::string::npos);
  CHECK(big.str().find("99") != std::string::npos);
  std::ostringstream g;
  Tensor x = ones({2}, {.requires_grad = true});
  g << x << " " << x * 2;
  CHECK(g.str().find("requires_grad=true") != std::string::npos);
  CHECK(g.str().find("grad_fn=mul") != std::string::npos);
}

TEST_CASE("in-place ops change values and bump the version counter") {
  Tensor a = zeros({2, 3});
  uint64_t v0 = a.version();
  a.fill_(2.0);
  CHECK(a.version() == v0 + 1);
  a.add_(ones({3}));  // broadcast operand
  CHECK(a.to_vector<float>() == std::vector<float>(6, 3.0f));
  a.mul_(0.5);
  a.add_(ones({2, 3}), 2.0);  // alpha
  CHECK(a.to_vector<float>() == std::vector<float>(6, 3.5f));
  a.sub_(full({2, 3}, 0.5));
  a.div_(2);
  CHECK(a.to_vector<float>() == std::vector<float>(6, 1.5f));
  a.mul_(full({2, 1}, 2.0));
  a.add_(1);
  CHECK(a.to_vector<float>() == std::vector<float>(6, 4.0f));
  a.zero_();
  CHECK(sum(a).item<double>() == 0);
  a.copy_(arange(6).reshape({2, 3}));  // copy_ casts int64 into float32
  CHECK(a.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(a.version() == v0 + 10);
  // a view shares the version counter with its base
  Tensor row = a.select(0, 1);
  row.fill_(7);
  CHECK(a.version() == v0 + 11);
  CHECK(a.to_vector<float>() == std::vector<float>{0, 1, 2, 7, 7, 7});
  // writes through a strided view land in the right places
  a.t().slice(0, 0, 3, 2).fill_(-1);
  CHECK(a.to_vector<float>() == std::vector<float>{-1, 1, -1, -1, 7, -1});
}

TEST_CASE("manual_seed and the RNG state make draws reproducible") {
  manual_seed(1234);
  std::vector<float> first = randn({1000}).to_vector<float>();
  std::vector<float> second = rand({1000}).to_vector<float>();
  manual_seed(1234);
  CHECK(randn({1000}).to_vector<float>() == first);
  RngState st = get_rng_state();
  std::vector<float> a = rand({1000}).to_vector<float>();
  set_rng_state(st);
  CHECK(rand({1000}).to_vector<float>() == a);
  CHECK(a == second);
  manual_seed(99);
  CHECK(randn({1000}).to_vector<float>() != first);
  // independent of the thread count
  manual_seed(7);
  set_num_threads(1);
  std::vector<double> one = randn({100000}, {.dtype = kFloat64}).to_vector<double>();
  manual_seed(7);
  set_num_threads(2);
  CHECK(randn({100000}, {.dtype = kFloat64}).to_vector<double>() == one);
}

TEST_CASE("rand draws element i from Philox word i of its stream, whatever the size") {
  // The CPU kernel draws each Philox block once for four elements; the
  // reference here takes one word per element, as the CUDA kernel does.
  for (int64_t n : {1, 2, 3, 4, 5, 7, 9, 1001, 70003}) {
    manual_seed(11);
    rand({3});  // the stream moves on in whole blocks
    const RngState st = get_rng_state();
    const std::vector<float> f = rand({n}).to_vector<float>();
    const std::vector<double> d = rand({n}, {.dtype = kFloat64}).to_vector<double>();
    const uint64_t d_offset = st.offset + static_cast<uint64_t>((n + 3) / 4 * 4);
    bool same = true;
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t k = static_cast<uint64_t>(i);
      const float want_f = static_cast<float>((philox::word(st.seed, st.offset, k) >> 8) *
                                              (1.0 / 16777216.0));
      const double want_d = philox::to_unit(philox::word(st.seed, d_offset, k));
      same = same && f[static_cast<size_t>(i)] == want_f && d[static_cast<size_t>(i)] == want_d;
    }
    CHECK_MESSAGE(same, "n = ", n);
  }
}

TEST_CASE("random draws have the right distribution") {
  manual_seed(5);
  Tensor u = rand({200000}, {.dtype = kFloat64});
  CHECK(min(u).item<double>() >= 0.0);
  CHECK(max(u).item<double>() < 1.0);
  CHECK(mean(u).item<double>() == doctest::Approx(0.5).epsilon(0.01));
  Tensor n = randn({200000}, {.dtype = kFloat64});
  double m = mean(n).item<double>();
  double var = mean((n - m) * (n - m)).item<double>();
  CHECK(m == doctest::Approx(0.0).epsilon(0.01).scale(1));
  CHECK(std::abs(m) < 0.01);
  CHECK(var == doctest::Approx(1.0).epsilon(0.02));
  Tensor f = rand({100000});
  CHECK(max(f).item<double>() < 1.0);
}

TEST_CASE("threads: one OpenMP pool shared with OpenBLAS") {
  CHECK(openblas_parallel_mode() == 2);  // the OpenMP build of OpenBLAS
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  set_num_threads(2);
  CHECK(get_num_threads() == 2);
}

// An Intel CPU with AVX2 and FMA runs OpenBLAS's AVX2 or AVX-512 kernels,
// never the SSE3 fallback of a model OpenBLAS does not know; a core asked for
// by OPENBLAS_CORETYPE wins (ctest runs this case once more with "Prescott").
// Where the machine's OpenBLAS knows the CPU there is nothing to switch and
// this checks OpenBLAS's own choice.
TEST_CASE("OpenBLAS runs the CPU's widest kernels") {
  const std::string core = openblas_core();
  CAPTURE(core);
  REQUIRE_FALSE(core.empty());
  if (const char* asked = std::getenv("OPENBLAS_CORETYPE")) {
    CHECK(core == asked);
    return;
  }
  if (std::getenv("LG_KEEP_OPENBLAS_CORE") != nullptr) return;  // OpenBLAS's own choice
  // The switch leaves the environment as it found it.
  CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_is("intel") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
    if (avx512)
      CHECK((core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids"));
    else
      CHECK((core == "Haswell" || core == "SkylakeX"));
  }
#endif
}

TEST_CASE("the CPU kernel table is complete") {
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    const KernelTable& k = kernel_table(Device::cpu(), t);
    CAPTURE(dtype_name(t));
    CHECK(bool(k.fill));
    CHECK(bool(k.copy));
    CHECK(bool(k.binary));
    if (t != kBool) {
      CHECK(bool(k.unary));
      CHECK(bool(k.reduce));
      CHECK(bool(k.arg_reduce));
    }
    if (is_floating(t)) {
      CHECK(bool(k.matmul));
      CHECK(bool(k.uniform));
      CHECK(bool(k.dropout_mask));
      CHECK(bool(k.normal));
      CHECK(bool(k.all_finite));
    }
  }
  CHECK(has_kernels(DeviceType::CUDA) == cuda_is_available());
}

TEST_CASE("memory accounting follows tensor lifetimes") {
  size_t before = memory_allocated();
  {
    Tensor t = empty({1024}, {.dtype = kFloat64});
    CHECK(memory_allocated() == before + 8192);
    CHECK(max_memory_allocated() >= before + 8192);
  }
  CHECK(memory_allocated() == before);
}

TEST_CASE("the CPU allocator reuses large blocks and empty_cache returns them") {
  empty_cache();
  CHECK(cpu_cached_bytes() == 0);
  void* first = nullptr;
  {
    Tensor big = empty({1 << 20});  // 4 MiB
    first = big.raw_data();
  }
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(cpu_cached_bytes() >= (size_t{4} << 20));
  Tensor again = empty({1 << 20});
  CHECK(again.raw_data() == first);  // served from the cache
  CHECK(cpu_cached_bytes() == 0);
  Tensor other = empty({3 << 20});   // another size class: a fresh block
  CHECK(other.raw_data() != first);
#endif
  Tensor small = empty({16});  // small blocks are never cached
  (void)small;
  empty_cache();
  CHECK(cpu_cached_bytes() == 0);
  // size classes round up by at most 1/8
  for (size_t n : {size_t{1} << 20, (size_t{1} << 20) + 1, size_t{5000000}, size_t{123456789}}) {
    size_t cls = cpu::CachingCpuAllocator::size_class(n);
    CHECK(cls >= n);
    CHECK(cls <= n + n / 8 + 64);
  }
}
