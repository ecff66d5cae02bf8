#include "core/status.h"

#include <gtest/gtest.h>

namespace pygrid {
namespace {

TEST(StatusTest, OkByDefault) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.ToString(), "OK");
}

TEST(StatusTest, RetryableDefaultsFollowTheKind) {
  EXPECT_TRUE(Status::Unavailable("x").retryable());
  EXPECT_TRUE(Status::Timeout("x").retryable());
  EXPECT_TRUE(Status::RateLimited("x").retryable());
  EXPECT_TRUE(Status::Conflict("x").retryable());
  EXPECT_FALSE(Status::Invalid("x").retryable());
  EXPECT_FALSE(Status::NotFound("x").retryable());
  EXPECT_FALSE(Status::Unauthorized("x").retryable());
  EXPECT_FALSE(Status::QuotaExceeded("x").retryable());
}

TEST(StatusTest, ToStringNamesKindHttpStatusCodeAndCauses) {
  Status status = Status::Invalid("bad spec", {{"spec.workers.replicas", "must be <= 100", ""}});
  status.WithHttpStatus(422).WithRemoteCode("02035");
  EXPECT_EQ(status.ToString(),
            "Invalid (HTTP 422, code 02035): bad spec; spec.workers.replicas: must be <= 100");
}

TEST(StatusTest, StatusOrCarriesValueOrError) {
  StatusOr<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  StatusOr<int> error = Status::NotFound("gone");
  ASSERT_FALSE(error.ok());
  EXPECT_TRUE(error.status().IsNotFound());
}

}  // namespace
}  // namespace pygrid
