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

TEST(Base64Test, RoundTripsBinaryAndLongInputOnOneLine) {
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes.push_back(static_cast<char>(i * 7 % 256));
  const std::string encoded = Base64Encode(bytes);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
  EXPECT_EQ(Base64Decode(encoded), std::optional<std::string>(bytes));
  // Wrapped at 76 columns, as `base64` and PEM bodies are.
  std::string wrapped;
  for (size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\r\n";
  EXPECT_EQ(Base64Decode(wrapped), std::optional<std::string>(bytes));
}

// Go's StdEncoding (the API server, kubectl) rejects these; so do we.
TEST(Base64Test, RejectsWhatGoStdEncodingRejects) {
  for (const char* bad :
       {"Zg", "Zm8", "Zg=", "Zg==Zg==", "Zm9v-", "Zm9v-----END", "Zm9v_w==", "Zg===", "=Zm9"}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace pygrid
