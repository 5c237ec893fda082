// Edit distances, WER and CER on known pairs (empty sides included), and the
// worst-utterances table.
#include <doctest/doctest.h>

#include "error_rate.h"

namespace {

using speech::ErrorRates;
using speech::ScoredUtterance;
using Words = std::vector<std::string>;

ErrorRates rates(const std::string& ref, const std::string& hyp) {
  ErrorRates r;
  r.add(ref, hyp);
  return r;
}

}  // namespace

TEST_CASE("edit distance counts substitutions, insertions and deletions") {
  CHECK(speech::edit_distance(Words{"a", "b", "c"}, Words{"a", "x", "c"}) == 1);
  CHECK(speech::edit_distance(Words{"a", "b"}, Words{"a", "b", "c"}) == 1);
  CHECK(speech::edit_distance(Words{"a", "b", "c"}, Words{"a", "c"}) == 1);
  CHECK(speech::edit_distance(Words{}, Words{"a", "b"}) == 2);
  CHECK(speech::edit_distance(Words{"a", "b"}, Words{}) == 2);
  CHECK(speech::edit_distance(Words{}, Words{}) == 0);
  CHECK(speech::edit_distance(Words{"one", "two"}, Words{"two", "one"}) == 2);
  CHECK(speech::edit_distance(std::string("kitten"), std::string("sitting")) == 3);
  CHECK(speech::edit_distance(std::string("flaw"), std::string("lawn")) == 2);
  CHECK(speech::edit_distance(std::string(""), std::string("abc")) == 3);
}

TEST_CASE("words are the runs between whitespace") {
  CHECK(speech::words("  three  oh\tseven\n") == Words{"three", "oh", "seven"});
  CHECK(speech::words("").empty());
  CHECK(speech::words(" \t ").empty());
  CHECK(speech::words("nine") == Words{"nine"});
}

TEST_CASE("WER and CER of a substitution, an insertion and a deletion") {
  const ErrorRates sub = rates("one two three", "one too three");
  CHECK(sub.word_edits == 1);
  CHECK(sub.words == 3);
  CHECK(sub.char_edits == 1);  // "two" -> "too"
  CHECK(sub.chars == 13);      // spaces count
  CHECK(sub.wer() == doctest::Approx(1.0 / 3));
  CHECK(sub.cer() == doctest::Approx(1.0 / 13));

  const ErrorRates ins = rates("five six", "five oh six");
  CHECK(ins.wer() == doctest::Approx(0.5));
  CHECK(ins.char_edits == 3);  // "oh "
  CHECK(ins.cer() == doctest::Approx(3.0 / 8));

  const ErrorRates del = rates("four four four", " four  four ");  // whitespace is normalised
  CHECK(del.word_edits == 1);
  CHECK(del.char_edits == 5);
  CHECK(del.chars == 14);
}

TEST_CASE("empty sides: an empty reference counts edits over 1 word") {
  CHECK(rates("", "").wer() == 0.0);
  CHECK(rates("", "").cer() == 0.0);
  const ErrorRates inserted = rates("", "one two");
  CHECK(inserted.word_edits == 2);
  CHECK(inserted.words == 0);
  CHECK(inserted.wer() == 2.0);
  CHECK(inserted.cer() == 7.0);
  const ErrorRates nothing_heard = rates("eight nine", "");
  CHECK(nothing_heard.wer() == 1.0);
  CHECK(nothing_heard.cer() == 1.0);
}

TEST_CASE("error rates sum over utterances") {
  ErrorRates r;
  r.add("one two three", "one two three");
  r.add("four", "for");
  r.add("", "five");
  CHECK(r.word_edits == 2);
  CHECK(r.words == 4);
  CHECK(r.wer() == doctest::Approx(0.5));
  CHECK(r.char_edits == 1 + 4);
  CHECK(r.chars == 13 + 4);
}

TEST_CASE("worst: most word edits first, ties by id, at most k") {
  const std::vector<ScoredUtterance> all = {
      {"u3", "a", "b", 1}, {"u1", "a b", "", 2}, {"u2", "a", "c", 1}, {"u0", "a", "a", 0}};
  const std::vector<ScoredUtterance> top = speech::worst(all, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0].id == "u1");
  CHECK(top[1].id == "u2");
  CHECK(top[2].id == "u3");
  CHECK(speech::worst(all, 10).size() == 4);
  CHECK(speech::worst(all, 0).empty());
}

TEST_CASE("the worst-utterances table is aligned, without trailing spaces") {
  const std::vector<ScoredUtterance> rows = {{"test-0007", "three oh seven", "three seven", 1},
                                             {"t2", "one", "", 12}};
  CHECK(speech::format_worst_table(rows) ==
        "id         edits  reference       hypothesis\n"
        "test-0007      1  three oh seven  three seven\n"
        "t2            12  one\n");
  CHECK(speech::format_worst_table({}) == "id  edits  reference  hypothesis\n");
}
