#include "bootstrap/templates.h"

#include <fstream>
#include <sstream>

#include "bootstrap/internal/builtin_templates.h"

namespace pygrid::bootstrap {

const Templates& Templates::Builtin() {
  static const Templates* templates = [] {
    std::map<std::string, std::string> files;
    for (const internal::EmbeddedFile* file = internal::kEmbeddedTemplates; file->path != nullptr;
         ++file) {
      files.emplace(file->path, file->content);
    }
    return new Templates(std::move(files));
  }();
  return *templates;
}

StatusOr<Templates> Templates::FromDirectory(const std::string& directory) {
  std::map<std::string, std::string> files;
  for (const auto& [path, unused] : Builtin().files()) {
    std::ifstream in(directory + "/" + path, std::ios::binary);
    if (!in) {
      return Status::Invalid("template directory " + directory + " has no " + path +
                             " (it must hold every file of the built-in set)");
    }
    std::ostringstream content;
    content << in.rdbuf();
    files.emplace(path, content.str());
  }
  return Templates(std::move(files));
}

const std::string* Templates::Find(const std::string& relative_path) const {
  auto it = files_.find(relative_path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace pygrid::bootstrap
