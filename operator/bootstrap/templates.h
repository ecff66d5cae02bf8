// Provides the cloud-init and compose templates the renderer fills: the files of the
// repository's cloud-init/ folder, compiled into the binary, or the same layout read from a
// folder an operator customised (--templates-dir).
//
//   StatusOr<Templates> templates = Templates::FromDirectory("/etc/pygrid/cloud-init");
//   const std::string* compose = templates->Find("compose/network-0.2/worker.yaml");
//
// Thread-safety: immutable after construction.
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace pygrid::bootstrap {

class Templates {
 public:
  // The templates compiled in from cloud-init/ at build time.
  static const Templates& Builtin();
  // Reads every file the built-in set has from `directory` (same relative paths); a missing
  // file is an error naming it, so a customised set is always complete.
  static StatusOr<Templates> FromDirectory(const std::string& directory);

  // The template at `relative_path`, or nullptr.
  const std::string* Find(const std::string& relative_path) const;
  const std::map<std::string, std::string>& files() const { return files_; }

 private:
  explicit Templates(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  std::map<std::string, std::string> files_;
};

}  // namespace pygrid::bootstrap
