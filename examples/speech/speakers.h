// lg-speech's speakers: an espeak-ng English voice (an accent) with a variant
// (a person: pitch, formants, roughness). The variants are split between
// training, validation and test, and every voice is used in each split, so
// no test speaker and no test variant is ever heard in training.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace speech {

enum class Split { Train, Validation, Test };
enum class Sex { Female, Male };

// "train", "validation", "test".
std::string split_name(Split split);
// The split named name, or nullopt.
std::optional<Split> parse_split(std::string_view name);

struct Variant {
  std::string name;  // espeak-ng's variant file name ("f1", "Annie")
  Sex sex;
  Split split;
};

// espeak-ng's English gmw voices that need no mbrola ("en-gb", "en-us", ...).
const std::vector<std::string>& voices();
// The human-sounding variants of espeak-ng (no whisper, robot or novelty
// voice) with their fixed split: 22 train, 4 validation, 4 test, both sexes in each.
const std::vector<Variant>& variants();

struct Speaker {
  std::string voice;
  std::string variant;
  Sex sex;
  // espeak-ng's -v argument: "en-us+f1"; "gmw/en+f1" for en-gb.
  std::string espeak_voice() const;
};

// Every (voice, variant) pair of the split, voice-major.
std::vector<Speaker> speakers(Split split);

}  // namespace speech
