// Iteration over n-d strided operands for the CPU kernels: dims are
// coalesced, the flat index space is split across OpenMP threads, and the
// kernel body runs on 1-d runs (count, per-operand pointers and strides), so
// the contiguous case is a plain loop the compiler vectorises.
#pragma once
#include <lasergrad/core/tensor.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "parallel.h"

namespace lg::cpu {

template <size_t N>
struct Layout {
  std::vector<int64_t> shape;                     // coalesced, innermost last
  std::array<std::vector<int64_t>, N> strides;    // in elements
};

// Drops size-1 dims and merges dims that are contiguous for every operand.
template <size_t N>
Layout<N> coalesce(const Shape& shape, const std::array<const Shape*, N>& strides) {
  Layout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!out.shape.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k)
        merge = merge && out.strides[k].back() == (*strides[k])[d] * shape[d];
      if (merge) {
        out.shape.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) out.strides[k].back() = (*strides[k])[d];
        continue;
      }
    }
    out.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back((*strides[k])[d]);
  }
  if (out.shape.empty()) {
    out.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back(1);
  }
  return out;
}

// Calls body(count, offsets, inner_strides) for the runs covering the flat
// elements [begin, end) of a coalesced layout, on the calling thread; offsets
// are element offsets of each operand from its base pointer. Allocates
// nothing, so it may run once per output element.
template <size_t N, typename Body>
void for_each_run_in(const Layout<N>& L, int64_t begin, int64_t end, Body&& body) {
  const int64_t nd = static_cast<int64_t>(L.shape.size());
  const int64_t inner = L.shape.back();
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = L.strides[k].back();
  int64_t row = begin / inner, col = begin % inner;
  while (begin < end) {
    std::array<int64_t, N> off{};
    int64_t r = row;
    for (int64_t d = nd - 2; d >= 0; --d) {
      int64_t idx = r % L.shape[d];
      r /= L.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx * L.strides[k][d];
    }
    int64_t count = std::min(inner - col, end - begin);
    for (size_t k = 0; k < N; ++k) off[k] += col * inner_strides[k];
    body(count, off, inner_strides);
    begin += count;
    ++row;
    col = 0;
  }
}

template <size_t N>
int64_t layout_numel(const Layout<N>& L) {
  int64_t total = 1;
  for (int64_t s : L.shape) total *= s;
  return total;
}

// Calls body(count, offsets, inner_strides) for runs covering every element,
// split into at most one chunk of at least `grain` elements per thread.
template <size_t N, typename Body>
void for_each_run(const Shape& shape, const std::array<const Shape*, N>& strides, Body&& body,
                  int64_t grain = kParallelGrain) {
  const Layout<N> L = coalesce<N>(shape, strides);
  const int64_t total = layout_numel(L);
  if (total == 0) return;
  const int threads = total >= grain ? omp_get_max_threads() : 1;
  const int64_t chunks = std::min<int64_t>(threads, (total + grain - 1) / grain);
  parallel_for(0, chunks, 2, [&](int64_t c) {
    for_each_run_in(L, total * c / chunks, total * (c + 1) / chunks, body);
  });
}

template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

}  // namespace lg::cpu
