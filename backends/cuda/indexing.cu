// CUDA indexing kernels: index_select and gather, and their adjoints
// index_add and scatter_add, with the semantics of backends/cpu/indexing.cpp.
// The ops layer does not validate CUDA indices (that would read them back on
// the host every step): each kernel checks its index, skips a bad one (reads
// 0, adds nothing) and reports the first to the device's error flag, raised
// at the next synchronisation. The adjoints add with atomicAdd, since repeated
// indices send several elements to one output; integer adds wrap around
// (atomicAdd on the unsigned type), and float sums may add in any order.
//
// Each kernel is an elementwise launch over the index's positions in which
// the indexed operand's stride along dim is 0: the launch then yields the
// offset of the position with the indexed coordinate left out, and the
// kernel adds index * that stride.
#include <cstdint>
#include <type_traits>

#include "launch.cuh"

namespace lg::cuda {
namespace {

// `strides` with the one at dim set to 0.
Shape without_dim(const Shape& strides, int64_t dim) {
  Shape s = strides;
  s[dim] = 0;
  return s;
}

template <typename T>
__device__ inline void atomic_add(T* target, T v) {
  if constexpr (std::is_same_v<T, int64_t>) {
    static_assert(sizeof(unsigned long long) == sizeof(int64_t));
    atomicAdd(reinterpret_cast<unsigned long long*>(target), static_cast<unsigned long long>(v));
  } else {
    atomicAdd(target, v);  // float, and double (sm_60 and newer)
  }
}

// Where an index must lie, [0, size), and where to report one that does not.
struct IndexCheck {
  int64_t size;
  DeviceError* error;
  int op;

  static IndexCheck of(const DeviceScope& scope, int64_t size) {
    return {size, scope.error_flag(), scope.report_id()};
  }
  __device__ bool ok(int64_t i) const {
    if (i >= 0 && i < size) return true;
    report_bad(error, op, kFoundIndex, i, 0, size);
    return false;
  }
};

// Operands: 0 the gathered-into, 1 the read operand without dim, 2 the index.
template <typename T>
struct GatherFn {
  T* out;
  const T* in;
  const int64_t* index;
  int64_t in_dim_stride;
  IndexCheck check;
  __device__ void operator()(int64_t, const int64_t* off) const {
    const int64_t i = index[off[2]];
    out[off[0]] = check.ok(i) ? in[off[1] + i * in_dim_stride] : T(0);
  }
};

// Operands: 0 the added-into operand without dim, 1 the source, 2 the index.
template <typename T>
struct ScatterAddFn {
  T* out;
  const T* src;
  const int64_t* index;
  int64_t out_dim_stride;
  IndexCheck check;
  __device__ void operator()(int64_t, const int64_t* off) const {
    const int64_t i = index[off[2]];
    if (check.ok(i)) atomic_add(out + off[0] + i * out_dim_stride, src[off[1]]);
  }
};

void check_index(const char* op, const Tensor& index, const Shape& shape) {
  LG_CHECK(index.dtype() == kInt64 && index.is_contiguous() && index.shape() == shape, op,
           ": CUDA kernel expected a contiguous int64 index ", shape_str(shape), ", got ",
           index.describe());
}

// in [A,n,B], out [A,K,B], index [K]: out[a,k,b] = in[a,index[k],b].
template <typename T>
void index_select(const Tensor& out, const Tensor& in, const Tensor& index) {
  DeviceScope scope("index_select", {&out, &in, &index});
  LG_CHECK(in.dim() == 3 && out.dim() == 3, "index_select: CUDA kernel expected 3-d operands, got ",
           in.describe(), " -> ", out.describe());
  const int64_t A = in.shape()[0], K = index.numel(), B = in.shape()[2];
  check_operand("index_select", out, {A, K, B}, dtype_of<T>());
  check_index("index_select", index, index.shape());
  const Shape in_strides = without_dim(in.strides(), 1);
  const Shape index_strides = {0, 1, 0};
  launch<3>("index_select", out.shape(), {&out.strides(), &in_strides, &index_strides},
            GatherFn<T>{ptr<T>(out), ptr<T>(in), ptr<int64_t>(index), in.strides()[1],
                        IndexCheck::of(scope, in.shape()[1])});
}

// out [A,n,B] += src [A,K,B] at out[a,index[k],b].
template <typename T>
void index_add(const Tensor& out, const Tensor& index, const Tensor& src) {
  DeviceScope scope("index_add", {&out, &index, &src});
  LG_CHECK(out.dim() == 3 && src.dim() == 3, "index_add: CUDA kernel expected 3-d operands, got ",
           src.describe(), " -> ", out.describe());
  const int64_t A = out.shape()[0], K = index.numel(), B = out.shape()[2];
  check_operand("index_add", out, out.shape(), dtype_of<T>());
  check_operand("index_add", src, {A, K, B}, dtype_of<T>());
  check_index("index_add", index, index.shape());
  const Shape out_strides = without_dim(out.strides(), 1);
  const Shape index_strides = {0, 1, 0};
  launch<3>("index_add", src.shape(), {&out_strides, &src.strides(), &index_strides},
            ScatterAddFn<T>{ptr<T>(out), ptr<T>(src), ptr<int64_t>(index), out.strides()[1],
                            IndexCheck::of(scope, out.shape()[1])});
}

// out[..i..] = in[..index[..i..]..], index taking dim's place.
template <typename T>
void gather(const Tensor& out, const Tensor& in, int64_t dim, const Tensor& index) {
  DeviceScope scope("gather", {&out, &in, &index});
  check_index("gather", index, index.shape());
  check_operand("gather", out, index.shape(), dtype_of<T>());
  LG_CHECK(in.dtype() == dtype_of<T>() && in.dim() == index.dim() && dim >= 0 && dim < in.dim(),
           "gather: CUDA kernel expected an input ", dtype_name(dtype_of<T>()), " of ", index.dim(),
           " dims and dim in range, got ", in.describe(), " and dim ", dim);
  const Shape in_strides = without_dim(in.strides(), dim);
  launch<3>("gather", index.shape(), {&out.strides(), &in_strides, &index.strides()},
            GatherFn<T>{ptr<T>(out), ptr<T>(in), ptr<int64_t>(index), in.strides()[dim],
                        IndexCheck::of(scope, in.shape()[dim])});
}

// out at index's positions along dim += src (src of index's shape, any strides).
template <typename T>
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  DeviceScope scope("scatter_add", {&out, &index, &src});
  check_index("scatter_add", index, index.shape());
  check_operand("scatter_add", src, index.shape(), dtype_of<T>());
  LG_CHECK(out.dtype() == dtype_of<T>() && out.dim() == index.dim() && dim >= 0 && dim < out.dim(),
           "scatter_add: CUDA kernel expected an output ", dtype_name(dtype_of<T>()), " of ",
           index.dim(), " dims and dim in range, got ", out.describe(), " and dim ", dim);
  const Shape out_strides = without_dim(out.strides(), dim);
  launch<3>("scatter_add", index.shape(), {&out_strides, &src.strides(), &index.strides()},
            ScatterAddFn<T>{ptr<T>(out), ptr<T>(src), ptr<int64_t>(index), out.strides()[dim],
                            IndexCheck::of(scope, out.shape()[dim])});
}

}  // namespace

void fill_indexing_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    t.index_select = index_select<T>;
    t.gather = gather<T>;
    if constexpr (!std::is_same_v<T, bool>) {
      t.index_add = index_add<T>;
      t.scatter_add = scatter_add<T>;
    }
  });
}

}  // namespace lg::cuda
