#include "speakers.h"

namespace speech {

std::string split_name(Split split) {
  switch (split) {
    case Split::Train:
      return "train";
    case Split::Validation:
      return "validation";
    case Split::Test:
      return "test";
  }
  return "?";
}

std::optional<Split> parse_split(std::string_view name) {
  for (Split s : {Split::Train, Split::Validation, Split::Test})
    if (name == split_name(s)) return s;
  return std::nullopt;
}

const std::vector<std::string>& voices() {
  static const std::vector<std::string> names = {"en-gb",          "en-us",      "en-gb-scotland",
                                                 "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
                                                 "en-029",         "en-us-nyc"};
  return names;
}

const std::vector<Variant>& variants() {
  using enum Sex;
  using enum Split;
  // Chosen by their settings in espeak-ng-data/voices/!v: left out are the
  // whispers (whisper, whisperf, caleb), robots, the child-high zac and the
  // novelty voices. The klatt-synthesised ones (adam, david, edward) sound
  // different from the rest, so one of them is held out for testing.
  static const std::vector<Variant> list = {
      {"f1", Female, Train},     {"f3", Female, Train},      {"f4", Female, Train},
      {"Alicia", Female, Train}, {"Andrea", Female, Train},  {"aunty", Female, Train},
      {"linda", Female, Train},  {"steph", Female, Train},   {"anika", Female, Train},
      {"m1", Male, Train},       {"m2", Male, Train},        {"m4", Male, Train},
      {"m5", Male, Train},       {"m7", Male, Train},        {"m8", Male, Train},
      {"Andy", Male, Train},     {"david", Male, Train},     {"edward", Male, Train},
      {"max", Male, Train},      {"paul", Male, Train},      {"robert", Male, Train},
      {"Gene", Male, Train},     {"f5", Female, Validation}, {"belinda", Female, Validation},
      {"m6", Male, Validation},  {"Mike", Male, Validation}, {"f2", Female, Test},
      {"Annie", Female, Test},   {"m3", Male, Test},         {"adam", Male, Test},
  };
  return list;
}

std::string Speaker::espeak_voice() const {
  // espeak-ng (1.51) takes "en-gb+f1" for another voice than gmw/en and
  // silently drops the variant (every en-gb speaker would sound the same);
  // the voice file's own name keeps it.
  return (voice == "en-gb" ? "gmw/en" : voice) + "+" + variant;
}

std::vector<Speaker> speakers(Split split) {
  std::vector<Speaker> out;
  for (const std::string& voice : voices())
    for (const Variant& v : variants())
      if (v.split == split) out.push_back({voice, v.name, v.sex});
  return out;
}

}  // namespace speech
