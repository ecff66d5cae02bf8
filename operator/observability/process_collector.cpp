#include "observability/process_collector.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

namespace pygrid::observability {
namespace {

prometheus::MetricFamily Single(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(metric);
  return family;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The fields of /proc/<pid>/stat after the parenthesised command name (which may contain
// spaces and parentheses, so we split after the last ')'): index 0 is field 3 (state).
std::vector<std::string> StatFields(const std::string& stat) {
  std::vector<std::string> fields;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  while (in >> field) fields.push_back(field);
  return fields;
}

// "Max open files  1024  1048576  files": the soft limit, or +Inf-like max when unlimited.
std::optional<double> SoftLimit(const std::string& limits, const std::string& row) {
  std::istringstream in(limits);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, row.size(), row) != 0) continue;
    std::istringstream values(line.substr(row.size()));
    std::string soft;
    values >> soft;
    if (soft == "unlimited") return static_cast<double>(std::numeric_limits<uint64_t>::max());
    try {
      return std::stod(soft);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<double> BootTime(const std::string& proc_stat) {
  std::istringstream in(proc_stat);
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double btime = 0;
      if (in >> btime) return btime;
      return std::nullopt;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

ProcessCollector::ProcessCollector(std::string proc_self, std::string proc_stat)
    : proc_self_(std::move(proc_self)),
      proc_stat_(std::move(proc_stat)),
      ticks_per_second_(sysconf(_SC_CLK_TCK)),
      page_size_(sysconf(_SC_PAGESIZE)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = ticks_per_second_ > 0 ? static_cast<double>(ticks_per_second_) : 100.0;

  if (auto stat = ReadFile(proc_self_ + "/stat")) {
    std::vector<std::string> f = StatFields(*stat);
    if (f.size() > 21) {
      try {
        // Field numbers from proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24.
        double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        families.push_back(Single("process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.",
                                  MetricType::Counter, cpu));
        families.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                  MetricType::Gauge, std::stod(f[20])));
        families.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                                  MetricType::Gauge,
                                  std::stod(f[21]) * static_cast<double>(page_size_)));
        auto proc_stat = ReadFile(proc_stat_);
        if (auto btime = proc_stat ? BootTime(*proc_stat) : std::nullopt) {
          families.push_back(Single("process_start_time_seconds",
                                    "Start time of the process since unix epoch in seconds.",
                                    MetricType::Gauge, *btime + std::stod(f[19]) / ticks));
        }
      } catch (const std::exception&) {
        // A malformed stat line yields no process metrics rather than a failed scrape.
      }
    }
  }

  if (DIR* dir = opendir((proc_self_ + "/fd").c_str())) {
    double open = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++open;
    }
    closedir(dir);
    families.push_back(
        Single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, open));
  }

  if (auto limits = ReadFile(proc_self_ + "/limits")) {
    if (auto max_fds = SoftLimit(*limits, "Max open files")) {
      families.push_back(Single("process_max_fds", "Maximum number of open file descriptors.",
                                MetricType::Gauge, *max_fds));
    }
    if (auto max_vm = SoftLimit(*limits, "Max address space")) {
      families.push_back(Single("process_virtual_memory_max_bytes",
                                "Maximum amount of virtual memory available in bytes.",
                                MetricType::Gauge, *max_vm));
    }
  }
  return families;
}

}  // namespace pygrid::observability
