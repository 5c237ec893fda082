// The README's example, built by tests/install against the installed package
// (run_consumer.cmake checks that the README shows exactly this code).
#include <lasergrad/lasergrad.h>

#include <iostream>

using namespace lg;

struct Net : nn::Module {
  nn::Linear fc1{2, 32}, fc2{32, 1};
  Net() { register_module("fc1", fc1); register_module("fc2", fc2); }
  Tensor forward(const Tensor& x) const { return fc2(gelu(fc1(x))); }
};

int main() {
  manual_seed(0);
  Net net;                                  // parameters "fc1.weight" [32,2], "fc1.bias", ...
  optim::AdamW opt(net.parameters(), {.lr = 1e-2, .weight_decay = 0.0});
  Tensor x = rand({256, 2}) * 2.0 - 1.0;
  Tensor y = x.slice(1, 0, 1) * x.slice(1, 1, 2);  // learn x0 * x1
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor loss = mean((net.forward(x) - y).pow(2));
    opt.zero_grad();
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  std::cout << "mse " << first << " -> " << last << "\n";

  // Weights go to a safetensors file (loadable in Python) and back.
  save_safetensors("net.safetensors", net.state_dict());
  Net copy;
  copy.load_state_dict(load_safetensors("net.safetensors"));
  bool same = copy.forward(x).to_vector<float>() == net.forward(x).to_vector<float>();

  // Gradients of any function of tensors, checked by finite differences (float64).
  Tensor a = randn({3, 4}, {.dtype = kFloat64, .requires_grad = true});
  GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return log_softmax(in[0] * in[0], 1); }, {a});
  std::cout << "reloaded: " << (same ? "same outputs" : "DIFFERENT")
            << ", gradcheck: " << (r.ok ? "passed" : r.message) << "\n";
  return last < first / 10 && same && r.ok ? 0 : 1;
}
