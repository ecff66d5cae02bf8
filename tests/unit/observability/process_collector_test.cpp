// ProcessCollector against a fake procfs tree and against the real /proc/self.
#include "observability/process_collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "unit/observability/test_util.h"

namespace pygrid::observability {
namespace {

namespace fs = std::filesystem;

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("pygrid-proc-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_ / "self" / "fd");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const fs::path& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }
  fs::path root_;
};

double Value(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  const auto* m = testing::FindMetric(families, name, {});
  EXPECT_NE(m, nullptr) << name;
  if (m == nullptr) return -1;
  return name == "process_cpu_seconds_total" ? m->counter.value : m->gauge.value;
}

TEST_F(FakeProc, ReadsStatLimitsFdsAndBootTime) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // A command name with spaces and a ')' must not shift the fields.
  std::string stat = "42 (pygrid op) x) S 1 42 42 0 -1 4194560 100 0 0 0 ";
  stat += std::to_string(static_cast<int>(3 * ticks)) + " " +
          std::to_string(static_cast<int>(ticks)) + " 0 0 20 0 4 0 " +
          std::to_string(static_cast<int>(50 * ticks)) + " 123456789 1000 rest\n";
  Write("self/stat", stat);
  Write("self/limits",
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max address space         unlimited            unlimited            bytes     \n"
        "Max open files            1024                 1048576              files     \n");
  for (int i = 0; i < 3; ++i) Write("self/fd/" + std::to_string(i), "");
  Write("stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n");

  ProcessCollector collector((root_ / "self").string(), (root_ / "stat").string());
  const auto families = collector.Collect();
  EXPECT_DOUBLE_EQ(Value(families, "process_cpu_seconds_total"), 4);
  EXPECT_DOUBLE_EQ(Value(families, "process_virtual_memory_bytes"), 123456789);
  EXPECT_DOUBLE_EQ(Value(families, "process_resident_memory_bytes"), 1000 * page);
  EXPECT_DOUBLE_EQ(Value(families, "process_start_time_seconds"), 1700000050);
  EXPECT_DOUBLE_EQ(Value(families, "process_open_fds"), 3);
  EXPECT_DOUBLE_EQ(Value(families, "process_max_fds"), 1024);
  EXPECT_DOUBLE_EQ(Value(families, "process_virtual_memory_max_bytes"), 18446744073709551615.0);
  for (const auto& f : families) {
    EXPECT_EQ(f.type, f.name == "process_cpu_seconds_total" ? prometheus::MetricType::Counter
                                                            : prometheus::MetricType::Gauge);
    EXPECT_FALSE(f.help.empty());
  }
}

TEST_F(FakeProc, MissingOrMalformedSourcesAreOmittedNotFatal) {
  Write("self/stat", "garbage without parenthesis");
  ProcessCollector collector((root_ / "self").string(), (root_ / "nope").string());
  const auto families = collector.Collect();
  EXPECT_EQ(testing::SeriesCount(families, "process_cpu_seconds_total"), 0u);
  EXPECT_EQ(testing::SeriesCount(families, "process_open_fds"), 1u);  // fd/ exists, empty
}

TEST(ProcessCollectorTest, RealProcSelfIsPlausible) {
  const auto families = ProcessCollector().Collect();
  EXPECT_GT(Value(families, "process_resident_memory_bytes"), 1e5);
  EXPECT_GE(Value(families, "process_open_fds"), 3);
  EXPECT_GT(Value(families, "process_start_time_seconds"), 1.6e9);
  EXPECT_GE(Value(families, "process_max_fds"), Value(families, "process_open_fds"));
}

}  // namespace
}  // namespace pygrid::observability
