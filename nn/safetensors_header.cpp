#include "safetensors_header.h"

#include <lasergrad/core/error.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace lg::detail {
namespace {

using json = nlohmann::json;

struct FileDType {
  const char* name;
  size_t itemsize;
  DType out;
};
// BF16 and F16 are read into float32, which represents all their values.
constexpr FileDType kFileDTypes[] = {{"F32", 4, kFloat32},  {"F64", 8, kFloat64},
                                     {"I64", 8, kInt64},    {"BOOL", 1, kBool},
                                     {"BF16", 2, kFloat32}, {"F16", 2, kFloat32}};

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

std::string list_str(const std::vector<uint64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += ']';
  return s;
}

// A SAX handler that accepts exactly the safetensors schema. Driving the parse
// event by event (instead of building a json DOM first) stops at the first
// unexpected token, so a hostile header can neither nest deeply nor make the
// reader build a large document it would then reject.
class HeaderSax {
 public:
  explicit HeaderSax(SafetensorsHeader& out) : out_(out) {}
  const std::string& error() const { return error_; }

  bool null() { return unexpected("null"); }
  bool boolean(bool) { return unexpected("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    if (v < 0 && (state_ == kShapeItems || state_ == kOffsetItems))
      return fail(where() + " holds the negative number " + std::to_string(v) + ", expected " +
                  expected());
    return v < 0 ? unexpected("a number") : number_unsigned(static_cast<uint64_t>(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (state_ == kShapeItems) {
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return fail(where() + " holds " + std::to_string(v) + ", more than a dimension can be");
      entry_->shape.push_back(v);
      return true;
    }
    if (state_ == kOffsetItems) {
      if (offsets_seen_ >= 2) return fail(where() + " holds more than two numbers");
      (offsets_seen_++ == 0 ? entry_->begin : entry_->end) = v;
      return true;
    }
    return unexpected("a number");
  }
  bool number_float(json::number_float_t, const std::string& text) {
    return unexpected("the number " + text);
  }
  bool binary(json::binary_t&) { return unexpected("binary data"); }
  bool string(std::string& s) {
    if (state_ == kFieldValue && field_ == "dtype") {
      entry_->dtype = s;
      state_ = kEntryKeys;
      return true;
    }
    if (state_ == kMetaValue) {
      out_.metadata[key_] = s;
      state_ = kMetaKeys;
      return true;
    }
    return unexpected("a string");
  }
  bool start_object(std::size_t) {
    if (state_ == kTop) {
      state_ = kTopKeys;
      return true;
    }
    if (state_ == kEntryValue) {
      if (key_ == "__metadata__") {
        state_ = kMetaKeys;
      } else {
        entry_ = &out_.tensors[key_];
        fields_.clear();
        state_ = kEntryKeys;
      }
      return true;
    }
    return unexpected("an object");
  }
  bool key(std::string& k) {
    if (state_ == kTopKeys) {
      bool duplicate =
          k == "__metadata__" ? !seen_metadata_.insert(k).second : out_.tensors.count(k) > 0;
      if (duplicate) return fail("the header names " + in_quotes(k) + " twice");
      key_ = k;
      state_ = kEntryValue;
      return true;
    }
    if (state_ == kEntryKeys) {
      if (k != "dtype" && k != "shape" && k != "data_offsets")
        return fail("tensor " + in_quotes(key_) + " has the unknown field " + in_quotes(k) +
                    " (expected dtype, shape, data_offsets)");
      if (!fields_.insert(k).second)
        return fail("tensor " + in_quotes(key_) + " has the field " + in_quotes(k) + " twice");
      field_ = k;
      state_ = kFieldValue;
      return true;
    }
    // kMetaKeys: the only other state in which the parser reports a key.
    if (out_.metadata.count(k)) return fail("__metadata__ has the key " + in_quotes(k) + " twice");
    key_ = k;
    state_ = kMetaValue;
    return true;
  }
  bool end_object() {
    if (state_ == kEntryKeys) {
      if (fields_.size() != 3)
        return fail("tensor " + in_quotes(key_) + " lacks " +
                    (!fields_.count("dtype")   ? "dtype"
                     : !fields_.count("shape") ? "shape"
                                               : "data_offsets"));
      state_ = kTopKeys;
    } else {
      state_ = state_ == kMetaKeys ? kTopKeys : kDone;
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (state_ == kFieldValue && field_ != "dtype") {
      state_ = field_ == "shape" ? kShapeItems : kOffsetItems;
      offsets_seen_ = 0;
      return true;
    }
    return unexpected("an array");
  }
  bool end_array() {
    if (state_ == kOffsetItems && offsets_seen_ != 2)
      return fail(where() + " holds fewer than two numbers");
    state_ = kEntryKeys;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // Keep the first (schema) error if the parser reports one after it.
    if (error_.empty()) error_ = std::string("the header is not valid JSON: ") + e.what();
    return false;
  }

 private:
  enum State {
    kTop,
    kTopKeys,
    kEntryValue,
    kEntryKeys,
    kFieldValue,
    kShapeItems,
    kOffsetItems,
    kMetaKeys,
    kMetaValue,
    kDone
  };

  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  std::string where() const {
    switch (state_) {
      case kTop:
      case kTopKeys:
      case kDone:
        return "the header";
      case kEntryValue:
        return key_ == "__metadata__" ? "__metadata__" : "the entry for tensor " + in_quotes(key_);
      case kMetaKeys:
      case kMetaValue:
        return "__metadata__ value for key " + in_quotes(key_);
      default:
        return "tensor " + in_quotes(key_) + " field " + in_quotes(field_);
    }
  }
  std::string expected() const {
    switch (state_) {
      case kTop:
        return "a JSON object";
      case kEntryValue:
        return key_ == "__metadata__" ? "an object of strings"
                                      : "an object {dtype, shape, data_offsets}";
      case kMetaValue:
        return "a string (metadata values are strings)";
      case kFieldValue:
        return field_ == "dtype"   ? "a string"
               : field_ == "shape" ? "an array of non-negative integers"
                                   : "an array of two non-negative integers";
      case kShapeItems:
        return "non-negative integers";
      case kOffsetItems:
        return "two non-negative integers";
      default:
        return "nothing more";
    }
  }
  bool unexpected(const std::string& got) {
    return fail(where() + ": expected " + expected() + ", got " + got);
  }

  SafetensorsHeader& out_;
  State state_ = kTop;
  std::string key_, field_, error_;
  SafetensorsEntry* entry_ = nullptr;
  std::set<std::string> fields_, seen_metadata_;
  int offsets_seen_ = 0;
};

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::string& where, const char* text,
                                           size_t size) {
  SafetensorsHeader header;
  HeaderSax sax(header);
  bool ok = false;
  try {
    ok = json::sax_parse(text, text + size, &sax, json::input_format_t::json, /*strict=*/true);
  } catch (const json::exception& e) {
    detail::fail(where, ": the header is not valid JSON: ", e.what());
  }
  LG_CHECK(ok && sax.error().empty(), where, ": ",
           sax.error().empty() ? std::string("the header is not valid JSON") : sax.error());
  return header;
}

void validate_safetensors_header(const std::string& where, SafetensorsHeader& header,
                                 uint64_t buffer_size) {
  std::vector<std::tuple<uint64_t, uint64_t, const std::string*>> ranges;
  for (auto& [name, e] : header.tensors) {
    const std::string tensor = "tensor " + in_quotes(name);
    const FileDType* ft = nullptr;
    for (const FileDType& d : kFileDTypes)
      if (e.dtype == d.name) ft = &d;
    LG_CHECK(ft, where, ": ", tensor, " has the unsupported dtype ", in_quotes(e.dtype),
             " (supported: F32, F64, I64, BOOL, BF16, F16)");
    e.out_dtype = ft->out;
    e.file_itemsize = ft->itemsize;
    // The product of the non-zero dimensions bounds every stride a tensor of
    // this shape gets, so it must fit in int64 even when numel is 0.
    uint64_t span = 1;
    bool has_zero = false;
    for (uint64_t d : e.shape) {
      has_zero = has_zero || d == 0;
      LG_CHECK(!__builtin_mul_overflow(span, std::max<uint64_t>(d, 1), &span) &&
                   span <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               where, ": ", tensor, " has shape ", list_str(e.shape),
               " whose element count overflows");
    }
    uint64_t numel = has_zero ? 0 : span, nbytes = 0;
    LG_CHECK(!__builtin_mul_overflow(numel, ft->itemsize, &nbytes), where, ": ", tensor,
             " has shape ", list_str(e.shape), " whose byte size overflows");
    LG_CHECK(e.begin <= e.end, where, ": ", tensor, " has data_offsets [", e.begin, ",", e.end,
             "] with begin > end");
    LG_CHECK(e.end <= buffer_size, where, ": ", tensor, " has data_offsets [", e.begin, ",", e.end,
             "] past the end of the data buffer (", buffer_size,
             " bytes; the file may be truncated)");
    LG_CHECK(e.end - e.begin == nbytes, where, ": ", tensor, " has data_offsets [", e.begin, ",",
             e.end, "] holding ", e.end - e.begin, " bytes, but ", e.dtype, list_str(e.shape),
             " needs ", nbytes);
    e.tensor_shape.assign(e.shape.begin(), e.shape.end());
    ranges.emplace_back(e.begin, e.end, &name);
  }
  // The spec requires the ranges to tile the buffer: sorted by start, each
  // begins where the previous ended, and the last ends at the buffer's end.
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  const std::string* previous = nullptr;
  for (const auto& [begin, end, name] : ranges) {
    LG_CHECK(begin >= cursor, where, ": tensor ", in_quotes(*name), " (bytes [", begin, ",", end,
             ")) overlaps tensor ", in_quotes(previous ? *previous : ""), " (which ends at ",
             cursor, ")");
    LG_CHECK(begin == cursor, where, ": bytes [", cursor, ",", begin,
             ") of the data buffer belong to no tensor (a hole before tensor ", in_quotes(*name),
             ")");
    cursor = end;
    previous = name;
  }
  LG_CHECK(cursor == buffer_size, where, ": the data buffer has ", buffer_size,
           " bytes but the tensors cover only ", cursor, " (unused tail)");
}

}  // namespace lg::detail
