#include "cli.h"

#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include "common/files.h"
#include "common/flags.h"
#include "common/loop_flags.h"
#include "common/training_loop.h"
#include "common/utf8.h"

namespace gpt {
namespace {

using examples::number_check;

void add_flags(CLI::App& app, TrainConfig& c) {
  const CLI::Validator positive = number_check(true, 1, true),
                       non_negative = number_check(true, 0, true);
  const CLI::Validator positive_real = number_check(false, 0, false),
                       non_negative_real = number_check(false, 0, true);
  app.add_option("--data", c.data, "UTF-8 text file to train on (default: the King James Bible)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-data-bytes", c.max_data_bytes, "Largest --data file read, in bytes")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--objective", c.objective,
                 "clm: predict the next character (causal attention); mlm: predict masked "
                 "characters, BERT-style (bidirectional attention)")
      ->check(CLI::IsMember({"clm", "mlm"}))
      ->capture_default_str();
  app.add_option("--mask-prob", c.mask_prob,
                 "--objective mlm: share of positions masked (of those, 80% become [MASK], 10% a "
                 "random character, 10% stay)")
      ->check(number_check(false, 0, false, 0.999))
      ->capture_default_str();
  app.add_option("--attention", c.attention, "Attention: laser or softmax")
      ->check(CLI::IsMember({"laser", "softmax"}))
      ->capture_default_str();
  app.add_option("--layers", c.layers, "Transformer blocks")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--d-model", c.d_model, "Model width")->check(positive)->capture_default_str();
  app.add_option("--heads", c.heads, "Attention heads (must divide --d-model)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--seq-len", c.seq_len, "Context length in characters")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--batch", c.batch, "Sequences per step (on each rank under mpirun)")->check(positive)->capture_default_str();
  app.add_option("--steps", c.steps, "Training steps in all (a resumed run continues to this)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--lr", c.lr, "Peak learning rate (cosine decay to lr/10)")
      ->check(positive_real)
      ->capture_default_str();
  app.add_option("--warmup", c.warmup, "Linear warm-up steps")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "AdamW weight decay")
      ->check(non_negative_real)
      ->capture_default_str();
  app.add_option("--dropout", c.dropout, "Dropout probability")
      ->check(number_check(false, 0, true, 0.99))
      ->capture_default_str();
  app.add_option("--grad-clip", c.grad_clip, "Max gradient norm (0: no clipping)")
      ->check(non_negative_real)
      ->capture_default_str();
  app.add_option("--eval-every", c.eval_every, "Validation loss every N steps")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--eval-batches", c.eval_batches, "Validation batches per evaluation")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--checkpoint-every", c.checkpoint_every,
                 "Checkpoint every N steps (0: with every evaluation); always at the end")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--log-every", c.log_every, "Progress line every N steps when not on a terminal")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed for the weights, dropout and the batches")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--threads", c.threads, "CPU threads (0: every core)")
      ->check(non_negative)
      ->capture_default_str();
  examples::add_bucket_flag(app, c.bucket_mb);
  app.add_option("--device", c.device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--out", c.out, "Folder for checkpoints and metrics")->capture_default_str();
  app.add_flag("--resume", c.resume, "Continue from the checkpoint in --out");
  app.add_option("--stop-after", c.stop_after,
                 "End this run after N steps with a checkpoint, to continue with --resume "
                 "(0: run to --steps)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--sample", c.sample,
                 "Generate N characters from the checkpoint in --out, without training (0: train, "
                 "then print a short sample)")
      ->check(non_negative)
      ->capture_default_str();
  // Below 1e-3, logits / temperature can overflow float32 (1e-300 did, after training).
  app.add_option("--temperature", c.temperature, "Sampling temperature")
      ->check(number_check(false, 1e-3, true, 1e3))
      ->capture_default_str();
  app.add_option("--top-k", c.top_k, "Sample among the k likeliest characters (0: all)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--prompt", c.prompt, "Text the sample continues")
      ->check([](const std::string& s) {
        try {
          examples::decode_utf8(s);
        } catch (const std::exception& e) {
          return std::string("is not UTF-8: ") + e.what();
        }
        return std::string();
      });
  app.add_option("--fill", c.fill,
                 "Print TEXT with each [MASK] filled in by the masked LM (--objective mlm) in "
                 "--out, without training")
      ->check([](const std::string& s) {
        try {
          examples::decode_utf8(s);
        } catch (const std::exception& e) {
          return std::string("is not UTF-8: ") + e.what();
        }
        return s.find(kMaskMarker) == std::string::npos
                   ? std::string("has no ") + kMaskMarker + " to fill"
                   : std::string();
      });
  examples::add_diagnose_gradients_flag(app, c.diagnose_gradients);
  app.add_flag("--bench", c.bench,
               "Time training steps of a fixed model (4 layers, d-model 256, 4 heads, seq-len 256, "
               "batch 8) and print one JSON line");
}

// The flag that reads the checkpoint in --out.
const char* mode_flag(const TrainConfig& c) {
  return c.resume ? "--resume" : c.sample > 0 ? "--sample" : "--fill";
}

// --data and the checkpoint --resume, --sample or --fill reads: regular files, --data
// within --max-data-bytes (read_input_file checks again on the open file).
std::string input_problems(const TrainConfig& c) {
  if (!c.data.empty()) {
    std::string p = examples::input_file_problem(
        "--data", c.data, static_cast<uint64_t>(c.max_data_bytes), "--max-data-bytes");
    if (!p.empty()) return p;
  }
  const std::filesystem::path ckpt = examples::checkpoint_path(c.out);
  std::error_code ec;
  // A missing checkpoint is check_flags' own message.
  if ((c.resume || c.sample > 0 || !c.fill.empty()) && std::filesystem::exists(ckpt, ec))
    return examples::input_file_problem(mode_flag(c), ckpt);
  return {};
}

// The checks CLI11's per-flag validators cannot make; an empty string when all pass.
std::string check_flags(const TrainConfig& c, const CLI::App& app) {
  if (std::string p = input_problems(c); !p.empty()) return p;
  if (c.d_model % c.heads != 0)
    return "--d-model " + std::to_string(c.d_model) + " is not divisible by --heads " +
           std::to_string(c.heads);
  if (c.device == "cuda" && !lg::cuda_is_available())
    return "--device cuda: no usable CUDA device (or this build has no CUDA backend)";
  if (c.warmup >= c.steps && app.count("--warmup") > 0)
    return "--warmup " + std::to_string(c.warmup) + " must be below --steps " +
           std::to_string(c.steps);
  const int modes = (c.resume ? 1 : 0) + (c.sample > 0 ? 1 : 0) + (c.fill.empty() ? 0 : 1);
  if (modes > 1) return "--resume, --sample and --fill exclude each other";
  if (modes > 0 && !std::filesystem::exists(examples::checkpoint_path(c.out)))
    return std::string(mode_flag(c)) + ": no checkpoint in --out " + c.out + " (expected " +
           examples::checkpoint_path(c.out).string() + ")";
  if (c.bench && modes > 0) return "--bench excludes --resume, --sample and --fill";
  if (c.bench && c.objective == "mlm") return "--bench times the causal model: drop --objective mlm";
  if (c.objective == "mlm" && !c.prompt.empty())
    return "--prompt is for --objective clm (a masked LM does not generate): use --fill";
  if (c.objective == "mlm" && app.count("--top-k") + app.count("--temperature") > 0)
    return "--top-k and --temperature are for --objective clm's sampling";
  // With --resume the checkpoint says the objective.
  if (app.count("--mask-prob") > 0 && c.objective != "mlm" && !c.resume)
    return "--mask-prob is for --objective mlm";
  return {};
}

}  // namespace

std::optional<int> parse_command_line(int argc, const char* const* argv, TrainConfig& config,
                                      std::ostream& out, std::ostream& err) {
  CLI::App app{
      "lg-gpt: train a character-level GPT on a text (default: the King James Bible) with "
      "LASER or softmax attention, then sample from it"};
  app.name("lg-gpt");
  add_flags(app, config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "lg-gpt: " << e.what() << " (see lg-gpt --help)\n";
    return kUsageExitCode;
  }
  for (const CLI::Option* option : app.get_options())
    if (option->count() > 0) config.given.insert(option->get_name());
  if (std::string problem = check_flags(config, app); !problem.empty()) {
    err << "lg-gpt: " << problem << "\n";
    return kUsageExitCode;
  }
  // The default warm-up, in a run shorter than it: a tenth of the run instead.
  if (config.warmup >= config.steps) config.warmup = config.steps / 10;
  return std::nullopt;
}

}  // namespace gpt
