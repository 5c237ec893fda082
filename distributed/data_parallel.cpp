#include <lasergrad/distributed/data_parallel.h>
#include <lasergrad/lasergrad.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_set>

namespace lg::distributed {

// A group of parameters whose gradients travel in one all-reduce: a flat
// tensor holding each gradient in turn, then one count per parameter (1 where
// this rank has a gradient; after the sum, how many ranks had one).
struct DistributedDataParallel::Bucket {
  std::vector<int64_t> params;
  std::vector<int64_t> offsets;  // of each parameter's gradient in `flat`
  int64_t grad_numel = 0;
  Tensor flat;
  std::vector<bool> ready;
  size_t pending = 0;
  std::optional<Work> work;
};

namespace {

using Clock = std::chrono::steady_clock;

std::vector<Tensor> unique_parameters(const nn::Module& module) {
  std::vector<Tensor> unique;
  std::unordered_set<const TensorImpl*> seen;
  for (const Tensor& p : module.parameters())
    if (p.requires_grad() && seen.insert(p.impl()).second) unique.push_back(p);
  return unique;
}

// The parameter's slot in its bucket's flat tensor, shaped as the parameter.
Tensor gradient_slot(const Tensor& flat, int64_t offset, const Tensor& param) {
  return flat.slice(0, offset, offset + param.numel()).view(param.shape());
}

}  // namespace

DistributedDataParallel::DistributedDataParallel(nn::Module& module, DataParallelOptions options)
    : module_(module), options_(options), params_(unique_parameters(module)) {
  LG_CHECK(options.bucket_mb > 0, "DistributedDataParallel: bucket_mb must be positive, got ",
           options.bucket_mb);
  LG_CHECK(is_initialized(), "DistributedDataParallel: call lg::distributed::init() first");
  assign_buckets(options.bucket_mb);
  if (world_size() == 1) return;
  check_same_model();
  broadcast_state(/*parameters=*/true);
  for (size_t i = 0; i < params_.size(); ++i)
    hook_handles_.push_back(register_post_accumulate_grad_hook(
        params_[i], [this, i](const Tensor&) { on_gradient_ready(static_cast<int64_t>(i)); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (size_t i = 0; i < hook_handles_.size(); ++i)
    remove_post_accumulate_grad_hook(params_[i], hook_handles_[i]);
}

std::vector<std::vector<int64_t>> DistributedDataParallel::bucket_parameters() const {
  std::vector<std::vector<int64_t>> result;
  for (const Bucket& b : buckets_) result.push_back(b.params);
  return result;
}

// Reverse parameter order; a new bucket when the next gradient would overflow
// the cap or has another dtype or device. A parameter larger than the cap gets
// a bucket of its own.
void DistributedDataParallel::assign_buckets(double bucket_mb) {
  const double cap_bytes = bucket_mb * 1024.0 * 1024.0;
  slot_of_.assign(params_.size(), {0, 0});
  double bytes = 0;
  for (int64_t i = static_cast<int64_t>(params_.size()) - 1; i >= 0; --i) {
    const Tensor& p = params_[static_cast<size_t>(i)];
    const double p_bytes = static_cast<double>(p.numel()) * static_cast<double>(element_size(p.dtype()));
    bool fresh = buckets_.empty();
    if (!fresh) {
      const Tensor& head = params_[static_cast<size_t>(buckets_.back().params.front())];
      fresh = bytes + p_bytes > cap_bytes || head.dtype() != p.dtype() || head.device() != p.device();
    }
    if (fresh) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    slot_of_[static_cast<size_t>(i)] = {buckets_.size() - 1, b.params.size()};
    b.params.push_back(i);
    b.offsets.push_back(b.grad_numel);
    b.grad_numel += p.numel();
    bytes += p_bytes;
  }
  for (Bucket& b : buckets_) {
    const Tensor& first = params_[static_cast<size_t>(b.params.front())];
    b.flat = Tensor::empty({b.grad_numel + static_cast<int64_t>(b.params.size())}, first.dtype(),
                           first.device(), "DistributedDataParallel");
    b.ready.assign(b.params.size(), false);
  }
}

// Every rank must hold the same model: parameter and buffer count, dtypes, shapes.
void DistributedDataParallel::check_same_model() const {
  std::vector<int64_t> signature = {static_cast<int64_t>(params_.size())};
  auto add = [&signature](const Tensor& t) {
    signature.push_back(static_cast<int64_t>(t.dtype()));
    signature.push_back(t.dim());
    for (int64_t d : t.shape()) signature.push_back(d);
  };
  for (const Tensor& p : params_) add(p);
  for (const auto& [name, buffer] : module_.named_buffers()) add(buffer);
  check_same_across_ranks(signature, "DistributedDataParallel: the model's parameters and buffers");
}

void DistributedDataParallel::broadcast_state(bool parameters) {
  NoGradGuard no_grad;
  auto send = [](const Tensor& t) {
    if (t.is_contiguous()) {
      Tensor view = t.detach();
      broadcast(view, 0);
    } else {
      Tensor copy = t.detach().contiguous();
      broadcast(copy, 0);
      t.detach().copy_(copy);
    }
  };
  if (parameters)
    for (const Tensor& p : params_) send(p);
  for (const auto& [name, buffer] : module_.named_buffers()) send(buffer);
}

void DistributedDataParallel::begin_backward() {
  in_backward_ = true;
  next_launch_ = 0;
  stats_ = {};
  for (Bucket& b : buckets_) {
    std::fill(b.ready.begin(), b.ready.end(), false);
    b.pending = b.params.size();
    b.work.reset();
  }
  queue_backward_callback([this] { finish_backward(); });
}

void DistributedDataParallel::on_gradient_ready(int64_t index) {
  if (no_sync_depth_ > 0) return;
  if (!in_backward_) begin_backward();
  const auto [bucket_index, slot] = slot_of_[static_cast<size_t>(index)];
  Bucket& b = buckets_[bucket_index];
  if (b.ready[slot] || b.work) return;  // a second call in one backward: already sent
  {
    NoGradGuard no_grad;
    const Tensor& p = params_[static_cast<size_t>(index)];
    gradient_slot(b.flat, b.offsets[slot], p).copy_(p.grad().detach());
    b.flat.slice(0, b.grad_numel + static_cast<int64_t>(slot), b.grad_numel + static_cast<int64_t>(slot) + 1)
        .fill_(1);
  }
  b.ready[slot] = true;
  --b.pending;
  launch_ready_buckets();
  for (Bucket& other : buckets_)  // drives the progress of those in flight
    if (other.work) other.work->test();
}

// Starts, in bucket order, every bucket whose gradients have all arrived.
void DistributedDataParallel::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    launch(buckets_[next_launch_++]);
    ++stats_.started_during_backward;
  }
}

void DistributedDataParallel::launch(Bucket& bucket) {
  bucket.work.emplace(all_reduce_async(bucket.flat, ReduceOp::Sum));
}

// Sends what is left (gradients this backward did not reach: an accumulated
// .grad if there is one, else zeros with a count of 0), waits for every bucket
// and writes the averages back.
void DistributedDataParallel::finish_backward() {
  in_backward_ = false;
  {
    NoGradGuard no_grad;
    for (size_t bi = next_launch_; bi < buckets_.size(); ++bi) {
      Bucket& b = buckets_[bi];
      for (size_t slot = 0; slot < b.params.size(); ++slot) {
        if (b.ready[slot]) continue;
        const Tensor& p = params_[static_cast<size_t>(b.params[slot])];
        const bool has = p.grad().defined();
        Tensor dst = gradient_slot(b.flat, b.offsets[slot], p);
        if (has) dst.copy_(p.grad().detach());
        else dst.zero_();
        const int64_t c = b.grad_numel + static_cast<int64_t>(slot);
        b.flat.slice(0, c, c + 1).fill_(has ? 1 : 0);
      }
      launch(b);
    }
  }
  next_launch_ = buckets_.size();
  const Clock::time_point start = Clock::now();
  for (Bucket& b : buckets_) b.work->wait();
  stats_.wait_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stats_.buckets = static_cast<int64_t>(buckets_.size());
  stats_.bytes = 0;
  for (Bucket& b : buckets_) {
    stats_.bytes += b.grad_numel * static_cast<int64_t>(element_size(b.flat.dtype()));
    write_back(b);
    b.work.reset();
  }
  if (options_.broadcast_buffers) broadcast_state(/*parameters=*/false);
}

void DistributedDataParallel::write_back(Bucket& bucket) {
  NoGradGuard no_grad;
  const std::vector<double> counts =
      bucket.flat.slice(0, bucket.grad_numel, bucket.grad_numel + static_cast<int64_t>(bucket.params.size()))
          .to_vector<double>();
  bucket.flat.slice(0, 0, bucket.grad_numel).mul_(1.0 / static_cast<double>(world_size()));
  for (size_t slot = 0; slot < bucket.params.size(); ++slot) {
    const Tensor& p = params_[static_cast<size_t>(bucket.params[slot])];
    if (counts[slot] == 0 && !p.grad().defined()) continue;  // no rank has a gradient
    Tensor average = gradient_slot(bucket.flat, bucket.offsets[slot], p);
    if (p.grad().defined()) p.grad().copy_(average);
    else p.set_grad(average.clone());
  }
}

}  // namespace lg::distributed
