// Provides the standalone commands: one researcher, a Genesis Cloud token and no Kubernetes.
// They run the in-cluster operator's reconciler in the foreground over a local state directory
// (cli/local_operator.h, cli/state_dir.h), with the same PyGridCluster file, the same
// validation, the same never-create-twice rules and the same status:
//
//   export GENESISCLOUD_TOKEN=...
//   pygrid-operator up -f grid.yaml          # validate (exit 2 before any cloud call), converge
//   pygrid-operator status [NAME]            # the stored status block, as kubectl shows it
//   pygrid-operator scale NAME --replicas 8
//   pygrid-operator suspend|resume NAME
//   pygrid-operator down NAME                # deletes every instance, waits until none is left
//
// A killed command loses nothing: running it again adopts what the cloud has and continues.
// Exit codes: cli/standalone_flags.h.
//
// Thread-safety: one command per process; installs SIGINT/SIGTERM handlers.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pygrid::cli {

// Runs `command` (up, status, scale, suspend, resume, down) with the arguments after it.
int RunStandalone(const std::string& command, const std::vector<std::string>& args,
                  std::ostream& out, std::ostream& err);

// `status`: prints the stored status; never contacts the cloud and takes no lock.
int RunStatus(const std::string& state_dir, const std::string& name, const std::string& output,
              std::ostream& out, std::ostream& err);

}  // namespace pygrid::cli
