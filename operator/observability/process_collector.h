// Provides ProcessCollector: the process_* metrics of Prometheus' Go process collector
// (process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_virtual_memory_max_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds), read from procfs on every scrape. prometheus-cpp has none.
//
//   auto process = std::make_shared<ProcessCollector>();   // /proc/self, /proc/stat
//   exposed_families = process->Collect();
//
// Thread-safety: Collect() is const and reads files only; safe from any thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace pygrid::observability {

class ProcessCollector : public prometheus::Collectable {
 public:
  // Reads `proc_self` (a /proc/<pid> directory: stat, limits, fd/) and `proc_stat` (for btime).
  // Tests point both at fake trees. Families whose source cannot be read are omitted.
  explicit ProcessCollector(std::string proc_self = "/proc/self",
                            std::string proc_stat = "/proc/stat");
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::string proc_self_;
  std::string proc_stat_;
  long ticks_per_second_;
  long page_size_;
};

}  // namespace pygrid::observability
