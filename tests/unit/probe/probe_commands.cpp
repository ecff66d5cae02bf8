// Prints one of the shell commands the SSH probes run on an instance (`marker` or `deliver`), so
// the instance tests (tests/instance) can run the real text against the real start script.
#include <cstdio>
#include <cstring>

#include "probe/prober.h"

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "marker") == 0) {
    std::fputs(pygrid::probe::kMarkerCommand, stdout);
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "deliver") == 0) {
    std::fputs(pygrid::probe::kDeliverCommand, stdout);
    return 0;
  }
  std::fputs("usage: probe_commands marker|deliver\n", stderr);
  return 2;
}
