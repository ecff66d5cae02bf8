// Provides what a person watching `pygrid-operator up` sees: one line per instance with the
// stage it is in (creating, booting, installing/starting, registered), derived from the
// cluster's status, under a headline with the phase and why it is not Ready yet. On a terminal
// the block is redrawn in place with a spinner; when the output is piped each change is printed
// once as a plain line with the elapsed time, so logs and tests can read it.
//
//   ProgressView view(std::cout, isatty(STDOUT_FILENO), RealClock::Instance());
//   view.Show(GridHeadline("mnist", status), InstanceStages(status));
//   view.Tick();                         // between rounds: moves the spinner
//   view.Note("event: InstanceLost ..."); // printed above the block
//   view.Finish();
//
// Thread-safety: not thread-safe; one view per command.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "api/types.h"
#include "cloud/cloud_provider.h"
#include "core/clock.h"

namespace pygrid::cli {

struct InstanceStage {
  std::string name;
  std::string stage;  // creating, booting, installing/starting, registered, serving, ...
  bool operator==(const InstanceStage& o) const { return name == o.name && stage == o.stage; }
};

// The gateway and every worker of `status`, in order, with a stage a person understands.
std::vector<InstanceStage> InstanceStages(const api::ClusterStatus& status);
// The instances of a grid being deleted, as the cloud lists them.
std::vector<InstanceStage> DeletionStages(const std::vector<cloud::Instance>& instances);
// "mnist: Provisioning (GatewayCreating: creating gateway instance ...)" or "mnist: Ready".
std::string GridHeadline(const std::string& name, const api::ClusterStatus& status);

class ProgressView {
 public:
  ProgressView(std::ostream& out, bool terminal, const Clock& clock);
  // Shows the headline and lines: redraws them (terminal) or prints what changed (piped).
  void Show(const std::string& headline, const std::vector<InstanceStage>& lines);
  // Advances the spinner (terminal only).
  void Tick();
  // Prints one line above the block.
  void Note(const std::string& line);
  // Leaves the block as it is and moves below it.
  void Finish();

 private:
  void Redraw();
  std::string Elapsed() const;

  std::ostream& out_;
  const bool terminal_;
  const Clock& clock_;
  const Clock::TimePoint started_;
  std::string headline_;
  std::vector<InstanceStage> lines_;
  size_t drawn_ = 0;  // lines of the block currently on the terminal
  int frame_ = 0;
};

}  // namespace pygrid::cli
