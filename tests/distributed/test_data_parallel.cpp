// DistributedDataParallel, written for any world size: ctest runs it under
// mpirun on 2 and 3 ranks (every rank runs the same cases in the same order)
// and alone. Each rank trains on its own rows of one batch; the averaged
// gradients must equal those of one process on the whole batch.
#include <doctest/doctest.h>

#include <lasergrad/distributed/data_parallel.h>
#include <lasergrad/lasergrad.h>

#include <cmath>
#include <string>
#include <vector>

#include "../test_util.h"

using namespace lg;
namespace dist = lg::distributed;

namespace {

int world() {
  dist::init();
  return dist::world_size();
}

// Parameters of very different sizes, so that small buckets split them.
struct Mlp : nn::Module {
  nn::Linear fc1{6, 32}, fc2{32, 4};
  Tensor scale;  // used only where a forward asks for it
  Mlp() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    scale = ones({4});
    scale.requires_grad_();
    register_parameter("scale", scale);
  }
  Tensor forward(const Tensor& x, bool use_scale) const {
    Tensor y = fc2(tanh(fc1(x)));
    return use_scale ? y * scale : y;
  }
};

void to_double(Mlp& m) { m.to(kFloat64); }

// Rows [first, first + n) of a fixed batch of `total` rows.
Tensor batch_rows(int64_t first, int64_t n, int64_t total) {
  manual_seed(1234);
  Tensor x = randn({total, 6}, {.dtype = kFloat64});
  return x.slice(0, first, first + n);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

// The loss of a model on rows of the batch: mean squared output.
Tensor loss_on(const Mlp& m, const Tensor& x, bool use_scale) {
  return mean(m.forward(x, use_scale) * m.forward(x, use_scale));
}

}  // namespace

TEST_CASE("DistributedDataParallel copies rank 0's parameters to every rank") {
  const int w = world();
  manual_seed(100 + static_cast<uint64_t>(dist::rank()));  // different weights on each rank
  Mlp model;
  dist::DistributedDataParallel ddp(model);
  for (const Tensor& p : model.parameters()) {
    Tensor highest = p.detach().clone();
    dist::all_reduce(highest, dist::ReduceOp::Max);
    CHECK(max_abs_diff(highest, p) == 0);
  }
  manual_seed(100);
  Mlp rank0;
  if (w > 1)
    for (size_t i = 0; i < model.parameters().size(); ++i)
      CHECK(max_abs_diff(model.parameters()[i], rank0.parameters()[i]) == 0);
}

TEST_CASE("averaged gradients equal one process's on the whole batch, for any bucket size") {
  const int w = world();
  const int64_t per_rank = 3, total = per_rank * w;
  for (double bucket_mb : {25.0, 0.0005, 1e-6}) {
    CAPTURE(bucket_mb);
    manual_seed(7);
    Mlp model;
    to_double(model);
    manual_seed(7);
    Mlp whole;
    to_double(whole);
    dist::DistributedDataParallel ddp(model, {.bucket_mb = bucket_mb});
    // 0.0005 MiB = 512 bytes: fc1's weight (1536 bytes) alone, the others grouped.
    if (bucket_mb == 25.0) CHECK(ddp.bucket_parameters().size() == 1);
    if (bucket_mb == 1e-6) CHECK(ddp.bucket_parameters().size() == model.parameters().size());
    if (bucket_mb == 1e-6)  // reverse order of parameters(): the last layer's first
      CHECK(ddp.bucket_parameters().front() == std::vector<int64_t>{4});
    loss_on(model, batch_rows(per_rank * dist::rank(), per_rank, total), true).backward();
    loss_on(whole, batch_rows(0, total, total), true).backward();
    for (size_t i = 0; i < model.parameters().size(); ++i) {
      CAPTURE(i);
      REQUIRE(model.parameters()[i].grad().defined());
      CHECK(max_abs_diff(model.parameters()[i].grad(), whole.parameters()[i].grad()) < 1e-12);
    }
    if (w > 1) {
      CHECK(ddp.last_sync().buckets == static_cast<int64_t>(ddp.bucket_parameters().size()));
      CHECK(ddp.last_sync().bytes == model.num_parameters() * 8);
      // Every parameter has a gradient: each bucket left from its last hook.
      CHECK(ddp.last_sync().started_during_backward == ddp.last_sync().buckets);
    }
  }
}

TEST_CASE("a parameter unused on some ranks gets the average; unused on all, no gradient") {
  const int w = world();
  manual_seed(3);
  Mlp model;
  to_double(model);
  dist::DistributedDataParallel ddp(model, {.bucket_mb = 1e-6});
  const bool use = dist::rank() == 0;  // only rank 0 uses `scale`
  Tensor x = batch_rows(0, 2, 2);
  loss_on(model, x, use).backward();
  // Rank 0's gradient of scale, divided by the world size, on every rank.
  manual_seed(3);
  Mlp alone;
  to_double(alone);
  loss_on(alone, x, true).backward();
  REQUIRE(model.scale.grad().defined());
  Tensor expected = alone.scale.grad() / static_cast<double>(w);
  CHECK(max_abs_diff(model.scale.grad(), expected) < 1e-12);
  // Buckets start in order: where scale is unused, its bucket and those after it
  // wait for the end of backward.
  int64_t scale_bucket = 0;
  const auto buckets = ddp.bucket_parameters();
  for (size_t b = 0; b < buckets.size(); ++b)
    if (model.parameters()[static_cast<size_t>(buckets[b][0])].is_same(model.scale))
      scale_bucket = static_cast<int64_t>(b);
  if (w > 1)
    CHECK(ddp.last_sync().started_during_backward ==
          (use ? ddp.last_sync().buckets : scale_bucket));

  model.zero_grad();
  loss_on(model, x, false).backward();  // no rank uses it now
  CHECK_FALSE(model.scale.grad().defined());
  CHECK(model.fc1.weight.grad().defined());
}

TEST_CASE("no_sync accumulates this rank's gradients; the next backward averages them all") {
  const int w = world();
  const int64_t total = 2 * w;
  manual_seed(11);
  Mlp model;
  to_double(model);
  manual_seed(11);
  Mlp whole;
  to_double(whole);
  dist::DistributedDataParallel ddp(model, {.bucket_mb = 0.0005});
  Tensor mine = batch_rows(2 * dist::rank(), 2, total);
  {
    auto guard = ddp.no_sync();
    loss_on(model, mine.slice(0, 0, 1), true).backward();
  }
  loss_on(model, mine.slice(0, 1, 2), true).backward();
  // One process: the same two halves, accumulated, then averaged over ranks.
  for (int r = 0; r < w; ++r) {
    Tensor rows = batch_rows(2 * r, 2, total);
    (loss_on(whole, rows.slice(0, 0, 1), true) / static_cast<double>(w)).backward();
    (loss_on(whole, rows.slice(0, 1, 2), true) / static_cast<double>(w)).backward();
  }
  for (size_t i = 0; i < model.parameters().size(); ++i) {
    CAPTURE(i);
    if (!whole.parameters()[i].grad().defined()) continue;
    CHECK(max_abs_diff(model.parameters()[i].grad(), whole.parameters()[i].grad()) < 1e-12);
  }
}

TEST_CASE("tied weights count once in the buckets") {
  world();
  struct Tied : nn::Module {
    nn::Embedding tok{7, 4};
    nn::Linear head{4, 7, false};
    Tied() {
      register_module("tok", tok);
      register_module("head", head);
      head.weight = tok.weight;
    }
  } model;
  dist::DistributedDataParallel ddp(model);
  int64_t listed = 0;
  for (const auto& bucket : ddp.bucket_parameters()) listed += static_cast<int64_t>(bucket.size());
  CHECK(listed == 1);
}

TEST_CASE("rank 0's buffers reach every rank after a synchronised backward") {
  world();
  struct Normed : nn::Module {
    nn::Linear fc{3, 2};
    nn::BatchNorm1d bn{2};
    Normed() {
      register_module("fc", fc);
      register_module("bn", bn);
    }
  } model;
  dist::DistributedDataParallel ddp(model);
  manual_seed(50 + static_cast<uint64_t>(dist::rank()));  // different data on each rank
  sum(model.bn.forward(model.fc(randn({4, 3})))).backward();
  for (const auto& [name, buffer] : model.named_buffers()) {
    CAPTURE(name);
    Tensor highest = buffer.detach().to(kFloat64);
    Tensor lowest = buffer.detach().to(kFloat64) * -1.0;
    dist::all_reduce(highest, dist::ReduceOp::Max);
    dist::all_reduce(lowest, dist::ReduceOp::Max);
    CHECK(max_abs_diff(highest, lowest * -1.0) == 0);
  }
}

TEST_CASE("DistributedDataParallel refuses models that differ across ranks and bad options") {
  const int w = world();
  CHECK(contains(error_of([] {
                   Mlp m;
                   dist::DistributedDataParallel ddp(m, {.bucket_mb = 0});
                 }),
                 "DistributedDataParallel: bucket_mb must be positive"));
  if (w == 1) return;
  struct Sized : nn::Module {
    nn::Linear fc;
    explicit Sized(int64_t n) : fc(3, n) { register_module("fc", fc); }
  } model(dist::rank() == 0 ? 2 : 3);
  CHECK(contains(error_of([&] { dist::DistributedDataParallel ddp(model); }),
                 "DistributedDataParallel: the model's parameters and buffers"));
}
