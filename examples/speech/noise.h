// Background noise for lg-speech's synthetic utterances: white, pink (1/f) or
// brown (1/f^2) noise from a seed, mixed in at a signal-to-noise ratio. Own
// generators, not std:: distributions (which differ between standard
// libraries), so that a corpus depends on its seed only.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace speech {

enum class Noise { None, White, Pink, Brown };

// "none", "white", "pink", "brown".
std::string noise_name(Noise noise);
std::optional<Noise> parse_noise(std::string_view name);

// n samples of the noise (zeros for None), scaled to an RMS of 1.
std::vector<float> make_noise(Noise noise, size_t n, uint64_t seed);

// Adds noise to speech at snr_db (the RMS ratio of the whole utterance to the
// noise; nothing for Noise::None), then scales the result down where its
// peak would exceed kMaxPeak.
inline constexpr float kMaxPeak = 0.95f;
void add_noise(std::vector<float>& speech, Noise noise, double snr_db, uint64_t seed);

}  // namespace speech
