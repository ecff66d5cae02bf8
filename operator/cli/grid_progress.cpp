#include "cli/grid_progress.h"

#include <algorithm>
#include <cstdio>

#include "api/conditions.h"

namespace pygrid::cli {

namespace {

constexpr const char* kSpinner[] = {"|", "/", "-", "\\"};

// The stage of one instance from what status recorded of it.
std::string Stage(const std::string& instance_id, const std::string& create_requested_at,
                  const std::string& state, bool serving, const char* serving_word) {
  if (instance_id.empty()) return create_requested_at.empty() ? "waiting" : "creating";
  if (state == "creating") return "booting";
  if (state == "active") return serving ? serving_word : "installing/starting";
  if (state == "error") return "failed (being replaced)";
  return state;  // starting, stopping, stopped, deleting
}

}  // namespace

std::vector<InstanceStage> InstanceStages(const api::ClusterStatus& status) {
  std::vector<InstanceStage> stages;
  if (status.gateway && !status.gateway->name.empty()) {
    const api::GatewayStatus& gateway = *status.gateway;
    stages.push_back({gateway.name, Stage(gateway.instance_id, gateway.create_requested_at,
                                          gateway.state, gateway.ready, "serving")});
  }
  for (const api::WorkerStatus& worker : status.workers) {
    stages.push_back({worker.name, Stage(worker.instance_id, worker.create_requested_at,
                                         worker.state, worker.registered, "registered")});
  }
  return stages;
}

std::vector<InstanceStage> DeletionStages(const std::vector<cloud::Instance>& instances) {
  std::vector<InstanceStage> stages;
  for (const cloud::Instance& instance : instances) {
    stages.push_back({instance.name, instance.status == "deleting"
                                         ? "deleting"
                                         : instance.status + ", to delete"});
  }
  std::sort(stages.begin(), stages.end(),
            [](const InstanceStage& a, const InstanceStage& b) { return a.name < b.name; });
  return stages;
}

std::string GridHeadline(const std::string& name, const api::ClusterStatus& status) {
  std::string line = name + ": " + (status.phase ? api::PhaseName(*status.phase) : "Pending");
  const api::Condition* ready = api::FindCondition(status.conditions, "Ready");
  if (ready != nullptr && ready->status != "True" && !ready->reason.empty()) {
    line += " (" + ready->reason + (ready->message.empty() ? "" : ": " + ready->message) + ")";
  }
  return line;
}

ProgressView::ProgressView(std::ostream& out, bool terminal, const Clock& clock)
    : out_(out), terminal_(terminal), clock_(clock), started_(clock.Now()) {}

std::string ProgressView::Elapsed() const {
  const double seconds = std::chrono::duration<double>(clock_.Now() - started_).count();
  char text[32];
  std::snprintf(text, sizeof text, "%7.1fs", seconds);
  return text;
}

void ProgressView::Show(const std::string& headline, const std::vector<InstanceStage>& lines) {
  if (terminal_) {
    headline_ = headline;
    lines_ = lines;
    Redraw();
    return;
  }
  if (headline != headline_) out_ << Elapsed() << "  " << headline << "\n";
  for (const InstanceStage& line : lines) {
    const bool changed = std::none_of(lines_.begin(), lines_.end(),
                                      [&](const InstanceStage& old) { return old == line; });
    if (changed) out_ << Elapsed() << "  " << line.name << "  " << line.stage << "\n";
  }
  for (const InstanceStage& old : lines_) {
    const bool gone = std::none_of(lines.begin(), lines.end(),
                                   [&](const InstanceStage& now) { return now.name == old.name; });
    if (gone) out_ << Elapsed() << "  " << old.name << "  gone\n";
  }
  headline_ = headline;
  lines_ = lines;
  out_.flush();
}

void ProgressView::Tick() {
  if (!terminal_) return;
  ++frame_;
  Redraw();
}

void ProgressView::Note(const std::string& line) {
  if (terminal_) {
    for (size_t i = 0; i < drawn_; ++i) out_ << "\033[1A\033[2K";
    drawn_ = 0;
    out_ << "\r" << line << "\n";
    Redraw();
  } else {
    out_ << Elapsed() << "  " << line << "\n";
    out_.flush();
  }
}

void ProgressView::Redraw() {
  for (size_t i = 0; i < drawn_; ++i) out_ << "\033[1A";
  out_ << "\r\033[2K" << kSpinner[frame_ % 4] << " " << headline_ << "  " << Elapsed() << "\n";
  size_t width = 0;
  for (const InstanceStage& line : lines_) width = std::max(width, line.name.size());
  for (const InstanceStage& line : lines_) {
    out_ << "\033[2K    " << line.name << std::string(width - line.name.size() + 2, ' ')
         << line.stage << "\n";
  }
  // Lines left over from a longer block (after a scale-down) are cleared.
  const size_t now = lines_.size() + 1;
  for (size_t i = now; i < drawn_; ++i) out_ << "\033[2K\n";
  for (size_t i = now; i < drawn_; ++i) out_ << "\033[1A";
  drawn_ = now;
  out_.flush();
}

void ProgressView::Finish() {
  if (terminal_) {
    drawn_ = 0;  // the block stays; output continues below it
  }
  out_.flush();
}

}  // namespace pygrid::cli
