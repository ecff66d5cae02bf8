#include "core/base64.h"

#include <gtest/gtest.h>

namespace pygrid {
namespace {

TEST(Base64Test, RoundTripsRfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(plain));
  }
}

TEST(Base64Test, DecodesSecretDataWithNewlinesAndRejectsGarbage) {
  EXPECT_EQ(Base64Decode("Zm9v\nYmFy\n"), std::optional<std::string>("foobar"));
  EXPECT_EQ(Base64Decode("Zm9v*"), std::nullopt);
}

}  // namespace
}  // namespace pygrid
