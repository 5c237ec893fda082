// Speech from espeak-ng: one utterance per run of the program (spawned
// directly, no shell: the text is an argument), read back at the model's rate.
#pragma once
#include <string>
#include <vector>

#include "speakers.h"

namespace speech {

// Throws examples::InputError "espeak-ng not found: install it (apt-get
// install espeak-ng)" where program (a name looked up on $PATH, or a path) is
// not an executable.
void check_espeak(const std::string& program);

struct SpeakRequest {
  Speaker speaker;
  int speed = 160;  // words per minute (espeak-ng -s)
  int pitch = 50;   // 0-99 (espeak-ng -p)
  std::string text;
};

// Runs `program -v <voice>+<variant> -s <speed> -p <pitch> -w <tmp_wav> <text>`
// and returns its output resampled to kSampleRate. tmp_wav (and tmp_wav +
// ".err", its stderr) are removed afterwards. Throws std::runtime_error
// naming the command where it cannot start, fails (its exit status and first
// line of stderr) or writes no audio.
std::vector<float> speak(const std::string& program, const SpeakRequest& request,
                         const std::string& tmp_wav);

}  // namespace speech
