// Status and Result<T>: how errors cross module edges in ream.
//
// A Status is either ok or carries a code and a human-readable message that says
// what was wrong and where (file, tensor, field...). Result<T> holds a T or a
// non-ok Status. Neither throws; callers check ok() before value().
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace ream {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong
  kNotFound,          // a file, tensor, token or record does not exist
  kDataLoss,          // a file is truncated or lies about its contents
  kUnimplemented,     // valid input that ream does not support (an architecture, a dtype)
  kResourceExhausted, // out of memory, KV blocks or queue space
  kCancelled,         // the caller cancelled the work
  kInternal,          // a bug or a failed device call
  kUnavailable,       // try again later (draining, not ready)
  kDeadlineExceeded,  // a timeout expired
  kAlreadyExists,
  kFailedPrecondition,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: message"
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }

// Holds either a value or a non-ok Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ream

// Returns early from a function returning Status or Result<T> when `expr` fails.
#define REAM_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::ream::Status ream_status_ = (expr);       \
    if (!ream_status_.ok()) return ream_status_; \
  } while (0)

#define REAM_CONCAT_INNER(a, b) a##b
#define REAM_CONCAT(a, b) REAM_CONCAT_INNER(a, b)
// `REAM_ASSIGN_OR_RETURN(auto x, make_x());` binds the value or returns the error.
#define REAM_ASSIGN_OR_RETURN(lhs, rexpr) \
  REAM_ASSIGN_OR_RETURN_IMPL(REAM_CONCAT(ream_result_, __LINE__), lhs, rexpr)
#define REAM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
