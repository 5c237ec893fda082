// Cooperative reductions for the CUDA kernels that give each output (a
// reduced element, a softmax or layer-norm row, a loss row) a group of
// threads: one thread, one warp, or one whole block of kThreads. Every thread
// of the group gets the combined value (an all-reduce), so that all of them
// can go on to use it, e.g. a row's max before its sum of exponentials.
//
// Also the offset of a flat index in a merged Geometry (launch.cuh), for
// kernels that walk one operand's elements outside the elementwise launch.
#pragma once
#include <cstdint>

#include "launch.cuh"

namespace lg::cuda {

inline constexpr int kWarp = 32;

// Element offset of flat index i (row-major over the original shape) in
// operand k of a merged geometry.
template <int N>
__device__ inline int64_t offset_of(const Geometry<N>& g, int64_t i, int k = 0) {
  if (g.ndim == 1) return i * g.strides[k][0];
  int64_t off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    off += (i % g.sizes[d]) * g.strides[k][d];
    i /= g.sizes[d];
  }
  return off;
}

// Shuffles of the accumulator types the kernels use: arithmetic types go
// through __shfl_xor_sync as they are; a struct accumulator provides a
// shuffle_xor of its own (found by argument-dependent lookup).
template <typename A>
__device__ inline A shuffle_xor(A v, int lane_mask) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask);
}

// Combines v across the G threads of a group; G is 1, kWarp or kThreads, and
// a group of kThreads is the whole block (every thread of which must call
// this). combine must be associative and commutative up to the accuracy the
// caller accepts (sums) or exactly (max, min and the arg-reductions).
template <int G, typename A, typename Combine>
__device__ A group_all_reduce(A v, Combine combine) {
  static_assert(G == 1 || G == kWarp || G == kThreads, "groups are a thread, a warp or a block");
  if constexpr (G == 1) {
    return v;
  } else {
    for (int mask = kWarp / 2; mask > 0; mask /= 2) v = combine(v, shuffle_xor(v, mask));
    if constexpr (G == kThreads) {
      __shared__ A per_warp[kThreads / kWarp];
      const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
      if (lane == 0) per_warp[warp] = v;
      __syncthreads();
      v = per_warp[0];
      for (int w = 1; w < kThreads / kWarp; ++w) v = combine(v, per_warp[w]);
      // per_warp is reused by the group's next reduction.
      __syncthreads();
    }
    return v;
  }
}

// Threads per group for reductions of `length` elements each over `count`
// outputs: one thread for short ones, a block where there are few long ones
// (so that the GPU still has enough threads), a warp otherwise.
inline int group_size_for(int64_t length, int64_t count) {
  if (length <= 8) return 1;
  if (length >= 8192 && count <= 1024) return kThreads;
  return kWarp;
}

// Blocks for `count` groups of G threads, capped as the elementwise launch is
// (the kernels loop over the groups beyond).
template <int G>
int blocks_for_groups(int64_t count) {
  constexpr int64_t kGroupsPerBlock = kThreads / G;
  return static_cast<int>(
      std::min<int64_t>((count + kGroupsPerBlock - 1) / kGroupsPerBlock, kMaxBlocks));
}

// The group a thread belongs to, its lane in it, and the step to its next group.
template <int G>
struct GroupIndex {
  int64_t first, step;
  int lane;
  __device__ GroupIndex()
      : first(static_cast<int64_t>(blockIdx.x) * (kThreads / G) + threadIdx.x / G),
        step(static_cast<int64_t>(gridDim.x) * (kThreads / G)),
        lane(static_cast<int>(threadIdx.x % G)) {}
};

// Runs launch_group<G>() for the G that group_size_for picks.
template <typename F>
void with_group_size(int64_t length, int64_t count, F&& launch_group) {
  switch (group_size_for(length, count)) {
    case 1:
      return launch_group.template operator()<1>();
    case kWarp:
      return launch_group.template operator()<kWarp>();
    default:
      return launch_group.template operator()<kThreads>();
  }
}

}  // namespace lg::cuda
