#include "sim/common/util.h"

#include <pthread.h>

#include <sstream>

namespace pygrid::sim {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string segment;
  while (std::getline(ss, segment, '/')) {
    if (!segment.empty()) out.push_back(segment);
  }
  return out;
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

}  // namespace pygrid::sim
