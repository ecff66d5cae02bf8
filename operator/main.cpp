// pygrid-operator: turns PyGridCluster resources into PyGrid grids on Genesis Cloud.
//   pygrid-operator [run] [flags]   run the controller (the default; --help lists the flags)
//   pygrid-operator render ...      print the cloud-init user data of one instance
//   pygrid-operator up|status|scale|suspend|resume|down ...
//                                   standalone: one grid without Kubernetes
//                                   (cli/standalone_commands.h)
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/render_command.h"
#include "cli/run_command.h"
#include "cli/standalone_commands.h"
#include "cli/standalone_flags.h"

namespace {

// glibc gives every thread that allocates an arena of its own, up to 8 per core, and each keeps
// the high-water mark of what its threads ever held. The operator runs ~60 threads (cpprestsdk's
// pool of 40, reconcile workers, informers, servers) that all parse JSON. Measured: at 1,000
// clusters 13 arenas held ~30 MiB that malloc_trim could give back (a quarter of the RSS); at
// 300 clusters the live heap peaked at 15 MiB (heaptrack) against 35 MiB anonymous RSS, and 2
// arenas took the peak RSS from 53.6 to 45.8 MiB. An explicit MALLOC_ARENA_MAX or
// glibc.malloc.arena_max tunable still wins.
void CapMallocArenas() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "glibc.malloc.arena_max") != nullptr))
    return;
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace

int main(int argc, char** argv) {
  CapMallocArenas();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "render") {
    args.erase(args.begin());
    return pygrid::cli::RunRender(args, std::cout, std::cerr);
  }
  if (!args.empty() && pygrid::cli::IsStandaloneCommand(args[0])) {
    const std::string command = args[0];
    args.erase(args.begin());
    return pygrid::cli::RunStandalone(command, args, std::cout, std::cerr);
  }
  if (!args.empty() && args[0] == "run") args.erase(args.begin());
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    std::cerr << "pygrid-operator: unknown command '" << args[0]
              << "' (commands: run, render, up, status, scale, suspend, resume, down; see "
                 "--help)\n";
    return 2;
  }
  return pygrid::cli::RunOperator(args, std::cout, std::cerr);
}
