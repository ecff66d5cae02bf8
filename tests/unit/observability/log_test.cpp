// JSON and text log lines, level filtering, reconcile scope and redaction, with the sink
// captured in memory.
#include "observability/log.h"

#include <gtest/gtest.h>

#include <boost/log/trivial.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "observability/redact.h"

namespace pygrid::observability {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void Init(LogFormat format, LogLevel level) {
    LogOptions options;
    options.format = format;
    options.level = level;
    options.writer = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
    };
    InitLogging(options);
  }
  void SetUp() override {
    ClearSecretsForTesting();
    Init(LogFormat::kJson, LogLevel::kInfo);
  }
  void TearDown() override {
    ClearSecretsForTesting();
    InitLogging({LogFormat::kJson, LogLevel::kInfo, [](const std::string&) {}});
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  nlohmann::json LastJson() {
    auto lines = Lines();
    EXPECT_FALSE(lines.empty());
    return lines.empty() ? nlohmann::json() : nlohmann::json::parse(lines.back());
  }

  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, JsonLineHasEnvelopeInOrderAndTypedValues) {
  Logger("controller.pygridcluster")
      .Info("created instance",
            {{"instance", "i-1"}, {"worker", 2}, {"ratio", 0.5}, {"dry", false}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(lines[0]);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  // nlohmann::json sorts keys; check the raw line for the envelope order instead.
  EXPECT_EQ(lines[0].rfind("{\"ts\":", 0), 0u);
  EXPECT_LT(lines[0].find("\"level\""), lines[0].find("\"logger\""));
  EXPECT_LT(lines[0].find("\"logger\""), lines[0].find("\"msg\""));
  EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["logger"], "controller.pygridcluster");
  EXPECT_EQ(j["msg"], "created instance");
  EXPECT_EQ(j["instance"], "i-1");
  EXPECT_EQ(j["worker"], 2);
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["dry"], false);
  EXPECT_FALSE(j.contains("reconcileID"));
}

TEST_F(LogTest, ReconcileScopeAddsObjectAndIdAndNests) {
  Logger log("controller");
  std::string outer_id;
  {
    ReconcileScope scope("pygridcluster", "default", "mnist");
    outer_id = scope.reconcile_id();
    EXPECT_TRUE(std::regex_match(
        outer_id,
        std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    log.Info("reconciling");
    auto j = LastJson();
    EXPECT_EQ(j["controller"], "pygridcluster");
    EXPECT_EQ(j["namespace"], "default");
    EXPECT_EQ(j["name"], "mnist");
    EXPECT_EQ(j["reconcileID"], outer_id);
    {
      ReconcileScope inner("pygridcluster", "team", "cifar", "fixed-id");
      log.Info("inner");
      EXPECT_EQ(LastJson()["reconcileID"], "fixed-id");
    }
    log.Info("outer again");
    EXPECT_EQ(LastJson()["reconcileID"], outer_id);
    std::thread([&] { log.Info("other thread"); }).join();
    EXPECT_FALSE(LastJson().contains("reconcileID"));
  }
  log.Info("after");
  EXPECT_FALSE(LastJson().contains("controller"));
  EXPECT_NE(NewReconcileId(), NewReconcileId());
}

TEST_F(LogTest, LevelFilterDropsLowerLevels) {
  Logger log("setup");
  log.Debug("hidden");
  EXPECT_TRUE(Lines().empty());
  EXPECT_FALSE(Logger::Enabled(LogLevel::kDebug));
  SetLogLevel(LogLevel::kDebug);
  log.Debug("shown");
  EXPECT_EQ(LastJson()["level"], "debug");
  SetLogLevel(LogLevel::kError);
  log.Info("hidden");
  log.Warning("hidden");
  log.Error("failed", Status::Unavailable("genesis down").WithHttpStatus(503));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  auto j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_NE(j["error"].get<std::string>().find("genesis down"), std::string::npos);
}

TEST_F(LogTest, ParsesFlags) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_TRUE(ParseLogLevel("verbose").status().IsInvalid());
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_TRUE(ParseLogFormat("xml").status().IsInvalid());
}

TEST_F(LogTest, WithNameAndWithValuesAndReservedKeys) {
  Logger log = Logger("controller").WithName("pygridcluster").WithValues({{"shard", 1}});
  log.Info("m", {{"msg", "clash"}, {"k", "v"}});
  auto j = LastJson();
  EXPECT_EQ(j["logger"], "controller.pygridcluster");
  EXPECT_EQ(j["shard"], 1);
  EXPECT_EQ(j["msg"], "m");
  EXPECT_EQ(j["field.msg"], "clash");
  EXPECT_EQ(j["k"], "v");
}

TEST_F(LogTest, TextFormatIsOneReadableLine) {
  Init(LogFormat::kText, LogLevel::kInfo);
  ReconcileScope scope("pygridcluster", "default", "mnist", "rid");
  Logger("genesis").Warning("slow down", {{"retryAfter", 3}, {"op", "CreateInstance"}});
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          R"(\S+Z\tWARN\tgenesis\tslow down\tcontroller=pygridcluster namespace=default name=mnist reconcileID=rid\tretryAfter=3 op="CreateInstance")")))
      << lines[0];
}

TEST_F(LogTest, SecretsAreRedactedEverywhereInTheRecord) {
  const std::string token = "gc_live_4f9a8b7c6d5e4f3a2b1c";
  const std::string key =
      "-----BEGIN OPENSSH PRIVATE KEY-----\n"
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
      "QyNTUxOQAAACBf0PzTxE2kUZ4Vb9Ez3L4Q9aKj7QqS3nYwJ0lDk4vLqQAAAJhzS0FHc0tB\n"
      "-----END OPENSSH PRIVATE KEY-----\n";
  RegisterSecret(token);
  RegisterSecret(key);
  Logger log = Logger("genesis").WithValues({{"auth", "Bearer " + token}});
  log.Info("calling with " + token,
           {{"body", key},
            {"line", "QyNTUxOQAAACBf0PzTxE2kUZ4Vb9Ez3L4Q9aKj7QqS3nYwJ0lDk4vLqQAAAJhzS0FHc0tB"}});
  Init(LogFormat::kText, LogLevel::kInfo);
  log.Error("failed", Status::Unauthorized("token " + token + " rejected"));
  BOOST_LOG_TRIVIAL(warning) << "third-party code printed " << token;
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(token), std::string::npos) << line;
    EXPECT_EQ(line.find("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"),
              std::string::npos)
        << line;
    EXPECT_EQ(line.find("QyNTUxOQAAACBf0PzTxE2kUZ4Vb9Ez3L4Q9aKj7QqS3nYwJ0lDk4vLqQAAAJhzS0FHc0tB"),
              std::string::npos)
        << line;
    EXPECT_NE(line.find("[REDACTED]"), std::string::npos) << line;
  }
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["msg"], "calling with [REDACTED]");
  EXPECT_EQ(j["auth"], "Bearer [REDACTED]");
  EXPECT_EQ(j["line"], "[REDACTED]");
  EXPECT_NE(lines[2].find("\tboost\tthird-party code printed [REDACTED]"), std::string::npos)
      << lines[2];
  EXPECT_EQ(Redact("x " + token + " y"), "x [REDACTED] y");
  RegisterSecret("abc");  // too short to register
  EXPECT_EQ(Redact("abc"), "abc");
}

TEST_F(LogTest, AThrowingWriterNeverReachesTheCaller) {
  InitLogging({LogFormat::kJson, LogLevel::kInfo,
               [](const std::string&) { throw std::runtime_error("disk full"); }});
  EXPECT_NO_THROW(Logger("x").Info("dropped"));
}

TEST_F(LogTest, ConcurrentWritersProduceWholeLines) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      Logger log("worker" + std::to_string(t));
      for (int i = 0; i < 200; ++i) log.Info("tick", {{"i", i}});
    });
  }
  for (auto& t : threads) t.join();
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 800u);
  for (const auto& line : lines) EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
}

}  // namespace
}  // namespace pygrid::observability
