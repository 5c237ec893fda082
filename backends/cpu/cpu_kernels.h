// Internal to the CPU backend: each kernel file fills its part of the table.
#pragma once
#include "../../core/kernels.h"

namespace lg::cpu {

void fill_elementwise_kernels(KernelTable& table, DType dtype);
void fill_reduce_kernels(KernelTable& table, DType dtype);
void fill_blas_kernels(KernelTable& table, DType dtype);
void fill_elementwise_select_kernels(KernelTable& table, DType dtype);
void fill_sampling_kernels(KernelTable& table, DType dtype);
// The activation values of UnaryOp (backends/cpu/activation.cpp), for `unary`.
void unary_activation(UnaryOp op, const Tensor& out, const Tensor& in);
void activation_backward(UnaryOp op, const Tensor& grad_in, const Tensor& grad_out,
                         const Tensor& x);
void fill_normalization_kernels(KernelTable& table, DType dtype);
void fill_indexing_kernels(KernelTable& table, DType dtype);
void fill_conv_kernels(KernelTable& table, DType dtype);
void fill_attention_kernels(KernelTable& table, DType dtype);
void fill_softmax_kernels(KernelTable& table, DType dtype);
void fill_loss_kernels(KernelTable& table, DType dtype);
void fill_optimizer_kernels(KernelTable& table, DType dtype);

}  // namespace lg::cpu
