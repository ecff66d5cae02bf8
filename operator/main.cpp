// pygrid-operator: turns PyGridCluster resources into PyGrid grids on Genesis Cloud.
//   pygrid-operator [run] [flags]   run the controller (the default; --help lists the flags)
//   pygrid-operator render ...      print the cloud-init user data of one instance
//   pygrid-operator up|status|scale|suspend|resume|down ...
//                                   standalone: one grid without Kubernetes (cli/standalone_commands.h)
#include <iostream>
#include <string>
#include <vector>

#include "cli/render_command.h"
#include "cli/run_command.h"
#include "cli/standalone_commands.h"
#include "cli/standalone_flags.h"

int main(int argc, char** argv) {
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
