// Gradient-ready hooks on leaves (register_post_accumulate_grad_hook) and the
// callbacks that run at the end of a backward (queue_backward_callback): what
// data-parallel training builds its overlap of communication and backward on.
#include <doctest/doctest.h>

#include <lasergrad/lasergrad.h>

#include <string>
#include <vector>

#include "test_util.h"

using namespace lg;

TEST_CASE("a gradient-ready hook runs once per backward, after every use of a tied leaf") {
  Tensor w = from_vector(std::vector<double>{1, 2}, {2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor x = from_vector(std::vector<double>{3, 4}, {2}, {.dtype = kFloat64});
  std::vector<std::vector<double>> seen;
  register_post_accumulate_grad_hook(
      w, [&](const Tensor& leaf) { seen.push_back(leaf.grad().to_vector<double>()); });
  (sum(w * x) + sum(w * 2.0) + sum(w * w)).backward();  // d/dw = x + 2 + 2w
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<double>{3 + 2 + 2, 4 + 2 + 4});
  // A second backward accumulates, and the hook sees the sum.
  sum(w * 10.0).backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == std::vector<double>{17, 20});
}

TEST_CASE("gradient-ready hooks run during the backward, in the order the gradients are ready") {
  // y = (w1 * x) -> h = y * w2: backward reaches w2 before w1.
  Tensor w1 = ones({3}, {.requires_grad = true});
  Tensor w2 = ones({3}, {.requires_grad = true});
  std::vector<std::string> events;
  register_post_accumulate_grad_hook(w1, [&](const Tensor&) { events.push_back("w1"); });
  register_post_accumulate_grad_hook(w2, [&](const Tensor&) {
    events.push_back("w2");
    queue_backward_callback([&] {
      events.push_back("end");
      queue_backward_callback([&] { events.push_back("end, queued by a callback"); });
    });
  });
  Tensor x = full({3}, 2.0);
  sum((w1 * x).exp() * w2).backward();
  CHECK(events ==
        std::vector<std::string>{"w2", "w1", "end", "end, queued by a callback"});
}

TEST_CASE("removed hooks do not run; several hooks run in the order registered") {
  Tensor w = ones({2}, {.requires_grad = true});
  std::string order;
  int64_t a = register_post_accumulate_grad_hook(w, [&](const Tensor&) { order += "a"; });
  register_post_accumulate_grad_hook(w, [&](const Tensor&) { order += "b"; });
  sum(w * 3.0).backward();
  CHECK(order == "ab");
  remove_post_accumulate_grad_hook(w, a);
  remove_post_accumulate_grad_hook(w, 123456);  // unknown: ignored
  sum(w * 3.0).backward();
  CHECK(order == "abb");
}

TEST_CASE("lg::grad fills no .grad and runs no gradient-ready hook") {
  Tensor w = ones({2}, {.requires_grad = true});
  int calls = 0;
  register_post_accumulate_grad_hook(w, [&](const Tensor&) { ++calls; });
  std::vector<Tensor> g = grad({sum(w * 5.0)}, {w});
  CHECK(g[0].to_vector<double>() == std::vector<double>{5, 5});
  CHECK(calls == 0);
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("hooks and callbacks refuse what they cannot serve") {
  Tensor w = ones({2}, {.requires_grad = true});
  Tensor y = w * 2.0;
  CHECK(contains(error_of([&] { register_post_accumulate_grad_hook(y, [](const Tensor&) {}); }),
                 "register_post_accumulate_grad_hook: float32[2] is not a leaf"));
  CHECK(contains(error_of([&] {
                   register_post_accumulate_grad_hook(ones({2}), [](const Tensor&) {});
                 }),
                 "a leaf that does not require grad"));
  CHECK(contains(error_of([] { queue_backward_callback([] {}); }),
                 "queue_backward_callback: no backward is running on this thread"));
}

TEST_CASE("a backward that throws runs no end-of-backward callback, and the next one works") {
  Tensor w = ones({2}, {.requires_grad = true});
  int ends = 0;
  bool fail = true;
  register_post_accumulate_grad_hook(w, [&](const Tensor&) {
    queue_backward_callback([&] { ++ends; });
    if (fail) throw Error("hook failed");
  });
  CHECK(contains(error_of([&] { sum(w * 2.0).backward(); }), "hook failed"));
  CHECK(ends == 0);
  fail = false;
  sum(w * 2.0).backward();
  CHECK(ends == 1);
  // The failed backward's callback list is gone with it: outside a backward, none is open.
  CHECK(contains(error_of([] { queue_backward_callback([] {}); }), "no backward is running"));
}
